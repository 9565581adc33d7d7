# The version every program prints for --version (common/version.h): the project's
# VERSION and the git commit of the source tree at configure time ("unknown" outside a git
# checkout, e.g. a release tarball). CMake configures again when HEAD or the branch it
# names moves, so a build after a commit does not report the previous one.
set(PTP_GIT_COMMIT "unknown")
find_package(Git QUIET)
if(GIT_FOUND)
  execute_process(COMMAND ${GIT_EXECUTABLE} rev-parse --show-toplevel
                  WORKING_DIRECTORY ${CMAKE_SOURCE_DIR}
                  OUTPUT_VARIABLE git_top OUTPUT_STRIP_TRAILING_WHITESPACE
                  RESULT_VARIABLE git_top_rc ERROR_QUIET)
  # Only the checkout this tree is the top of (not a git repository that happens to
  # contain an unpacked tarball).
  if(git_top_rc EQUAL 0)
    file(REAL_PATH "${git_top}" git_top)
    file(REAL_PATH "${CMAKE_SOURCE_DIR}" src_top)
  endif()
  if(git_top_rc EQUAL 0 AND git_top STREQUAL src_top)
    execute_process(COMMAND ${GIT_EXECUTABLE} rev-parse --short=12 HEAD
                    WORKING_DIRECTORY ${CMAKE_SOURCE_DIR}
                    OUTPUT_VARIABLE git_commit OUTPUT_STRIP_TRAILING_WHITESPACE
                    RESULT_VARIABLE git_commit_rc ERROR_QUIET)
    if(git_commit_rc EQUAL 0 AND git_commit MATCHES "^[0-9a-f]+$")
      set(PTP_GIT_COMMIT "${git_commit}")
    endif()
    # Re-configure when HEAD moves: HEAD itself (detached) and the branch it names.
    execute_process(COMMAND ${GIT_EXECUTABLE} rev-parse --symbolic-full-name HEAD
                    WORKING_DIRECTORY ${CMAKE_SOURCE_DIR}
                    OUTPUT_VARIABLE git_branch OUTPUT_STRIP_TRAILING_WHITESPACE ERROR_QUIET)
    set(git_watch HEAD packed-refs)
    if(git_branch MATCHES "^refs/")
      list(APPEND git_watch ${git_branch})
    endif()
    foreach(name ${git_watch})
      execute_process(COMMAND ${GIT_EXECUTABLE} rev-parse --git-path ${name}
                      WORKING_DIRECTORY ${CMAKE_SOURCE_DIR}
                      OUTPUT_VARIABLE git_file OUTPUT_STRIP_TRAILING_WHITESPACE ERROR_QUIET)
      if(git_file AND NOT IS_ABSOLUTE "${git_file}")
        set(git_file "${CMAKE_SOURCE_DIR}/${git_file}")
      endif()
      if(git_file AND EXISTS "${git_file}")
        set_property(DIRECTORY ${CMAKE_SOURCE_DIR} APPEND PROPERTY CMAKE_CONFIGURE_DEPENDS
                     "${git_file}")
      endif()
    endforeach()
  endif()
endif()
configure_file(${CMAKE_SOURCE_DIR}/common/version_info.h.in
               ${CMAKE_BINARY_DIR}/ptp_version_info.h @ONLY)
message(STATUS "ptp version ${PROJECT_VERSION} (${PTP_GIT_COMMIT})")
