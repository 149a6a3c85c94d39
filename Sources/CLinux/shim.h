#ifndef VIGIL_CLINUX_SHIM_H
#define VIGIL_CLINUX_SHIM_H
/* Linux interfaces that Glibc's Swift module does not export. */
#include <fcntl.h>
#include <unistd.h>

/* pipe2(2) with O_CLOEXEC: a pipe no other thread's spawn can inherit. */
static inline int vigil_pipe_cloexec(int fds[2]) {
    extern int pipe2(int pipefd[2], int flags);
    return pipe2(fds, O_CLOEXEC);
}

#include <spawn.h>

/* posix_spawn_file_actions_addclosefrom_np (glibc 2.34): the child closes every fd from `from` up. */
static inline int vigil_spawn_close_from(posix_spawn_file_actions_t *actions, int from) {
    extern int posix_spawn_file_actions_addclosefrom_np(posix_spawn_file_actions_t *, int);
    return posix_spawn_file_actions_addclosefrom_np(actions, from);
}
#endif
