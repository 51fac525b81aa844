/* SPDX-License-Identifier: MIT */
/*
 * The seed's usage example (docs: seed 000 §1.1), with its typos fixed, made
 * into a program: it runs start_your_APP in a rocker, waits for it, and kills
 * the guard the robust way. The app prints what it sees from inside.
 *
 *   seed_example [IMAGE [EXEC_DIR [DATA_DIR]]]
 *
 * defaults to the seed's own paths: /tmp/your_APP.squashfs,
 * /var/your_APP/execdir, /var/your_APP/datadir.
 */
#include <dirent.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <rocker/rocker.h>

struct your_args {
        const char *exec_dir;
};

static void print_pid1_name(void) {
        char buf[256] = "";
        FILE *f = fopen("/proc/1/stat", "re");

        if (f) {
                if (!fgets(buf, sizeof buf, f))
                        buf[0] = '\0';
                fclose(f);
        }
        printf("[app] PID 1 is: %.*s\n", (int) (strrchr(buf, ')') ? strrchr(buf, ')') - buf + 1 : 0), buf);
}

// 由调用方定义的, 将在 ROCKER 中执行的回调函数及其参数
static int start_your_APP(void *args) {
        struct your_args *a = args;
        DIR *d;
        struct dirent *de;
        FILE *f;

        printf("[app] my pid: %d, uid %d, gid %d\n", (int) getpid(), (int) getuid(), (int) getgid());
        print_pid1_name();
        printf("[app] image mounted at %s:", a->exec_dir);
        d = opendir(a->exec_dir);
        while (d && (de = readdir(d)))
                if (de->d_name[0] != '.')
                        printf(" %s", de->d_name);
        if (d)
                closedir(d);
        printf("\n");
        f = fopen("/var/tmp/your_APP-was-here", "we");
        if (f) {
                fprintf(f, "written from inside the rocker\n");
                fclose(f);
                printf("[app] wrote /var/tmp/your_APP-was-here (it lands in the data dir, not on the host)\n");
        } else
                printf("[app] cannot write /var/tmp/your_APP-was-here: %m\n");
        f = fopen("/usr/your_APP-was-here", "we");
        printf("[app] writing /usr/your_APP-was-here as uid %d: %s\n", (int) getuid(),
               f ? "allowed" : "refused (the host's /usr is root's)");
        if (f)
                fclose(f);
        fflush(stdout);
        return 0;
}

int main(int argc, char **argv) {
        struct your_args your_args = { .exec_dir = argc > 2 ? argv[2] : "/var/your_APP/execdir" };
        void *my_args = &your_args;
        int status;

        // 初始化一个空白的 RockerRequest 结构体
        RockerRequest req = ROCKER_request_new();

        // 为 RockerRequest 结构体赋值
        req.app_id = 1000;
        req.uid = 1000;
        req.gid = 1000;
        req.app_pkg_path = argc > 1 ? argv[1] : "/tmp/your_APP.squashfs";
        req.app_exec_dir = argc > 2 ? argv[2] : "/var/your_APP/execdir";
        req.app_data_dir = argc > 3 ? argv[3] : "/var/your_APP/datadir";
        char *overlays[] = { "/usr", "/var", "/etc", "/home", "/root" };
        for (size_t i = 0; i < sizeof overlays / sizeof overlays[0]; i++)
                req.app_overlay_dirs[i] = overlays[i];

        // 尝试在 ROCKER 中运行 APP
        RockerResult res = ROCKER_enter_rocker(&req, start_your_APP, my_args);

        if (ROCKER_ERR_success != res.err_no) {
                // 处理错误
                fprintf(stderr, "ROCKER_enter_rocker: %s: %s\n", ROCKER_strerror(res.err_no), ROCKER_last_error());
                return 1;
        }
        printf("[launcher] rocker guard %s (pid %d), app pid %d\n", res.guard_pname, res.guard_pid, res.app_pid);

        // APP 运行结束
        if (waitpid(res.app_pid, &status, 0) < 0) {
                perror("waitpid");
                return 1;
        }
        printf("[launcher] app exited with status %d\n", WIFEXITED(status) ? WEXITSTATUS(status) : -1);

        // 更稳健的清理方法, 清理环境
        RockerResult res2 = ROCKER_get_guardname(res.guard_pid);
        if (ROCKER_ERR_success == res2.err_no &&
                        0 == strcmp(res.guard_pname, res2.guard_pname)) {
                kill(res.guard_pid, SIGKILL);
                printf("[launcher] guard %s killed\n", res.guard_pname);
        }
        return WIFEXITED(status) ? WEXITSTATUS(status) : 1;
}
