/* SPDX-License-Identifier: MIT */
/* rocker ps: the live rockers, as a table or as JSON. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <rocker/rocker.h>

#include "cli.h"

const char cli_ps_usage[] =
        "Usage: rocker ps [OPTIONS]\n"
        "\n"
        "Lists the live rockers rockerd knows, newest first, with the memory\n"
        "(MEM) and CPU time (CPU) of each one's cgroup; \"-\" where rockerd\n"
        "cannot tell, and a note below the table says why.\n"
        "\n"
        "  -j, --json            print a JSON array of objects instead of a table\n"
        "  -h, --help            show this help\n";

enum { COL_GUARD, COL_PID, COL_APP, COL_UID, COL_AGE, COL_MEM, COL_CPU, COL_IMAGE, COL_DATA, N_COLS };

static const char *const col_titles[N_COLS] = { "GUARD", "PID", "APP", "UID", "AGE", "MEM", "CPU", "IMAGE",
                                                "DATA DIR" };

/* 1536 → "1.5K": powers of 1024, like systemctl status. */
static void format_bytes(long long n, char *buf, size_t size) {
        static const char units[] = "BKMGT";
        double v = (double) n;
        size_t u = 0;

        if (n < 0) {
                snprintf(buf, size, "-");
                return;
        }
        while (v >= 1024 && u + 1 < sizeof units - 1) {
                v /= 1024;
                u++;
        }
        if (u == 0)
                snprintf(buf, size, "%lldB", n);
        else
                snprintf(buf, size, "%.1f%c", v, units[u]);
}

static void format_cpu(long long usec, char *buf, size_t size) {
        if (usec < 0)
                snprintf(buf, size, "-");
        else if (usec < 60 * 1000000LL)
                snprintf(buf, size, "%.2fs", (double) usec / 1e6);
        else
                snprintf(buf, size, "%lldm%02llds", usec / 60000000LL, usec / 1000000LL % 60);
}

static const char *str(const char *s) {
        return s ? s : "";
}

/* Terminal columns taken by s: UTF-8 continuation bytes take none. */
static size_t text_width(const char *s) {
        size_t n = 0;

        for (; *s; s++)
                n += ((unsigned char) *s & 0xc0) != 0x80;
        return n;
}

/* Control characters would break the table: show them as '?'. */
static void put_text(const char *s, size_t pad) {
        for (const unsigned char *p = (const unsigned char *) s; *p; p++)
                putchar(*p < 0x20 || *p == 0x7f ? '?' : *p);
        for (size_t i = 0; i < pad; i++)
                putchar(' ');
}

static void format_age(long long ms, char *buf, size_t size) {
        long long s = ms < 0 ? 0 : ms / 1000;

        if (s < 60)
                snprintf(buf, size, "%llds", s);
        else if (s < 3600)
                snprintf(buf, size, "%lldm%02llds", s / 60, s % 60);
        else if (s < 86400)
                snprintf(buf, size, "%lldh%02lldm", s / 3600, s % 3600 / 60);
        else
                snprintf(buf, size, "%lldd%02lldh", s / 86400, s % 86400 / 3600);
}

/* The cells of a row; all but the paths are formatted into num. */
static void row_cells(const RockerInfo *r, char num[7][32], const char *ret_text[N_COLS]) {
        snprintf(num[0], sizeof num[0], "%d", r->guard_pid);
        snprintf(num[1], sizeof num[1], "%d", r->app_id);
        snprintf(num[2], sizeof num[2], "%d", r->uid);
        format_age(r->age_ms, num[3], sizeof num[3]);
        snprintf(num[4], sizeof num[4], "%.*s", (int) sizeof r->guard_pname, r->guard_pname);
        format_bytes(r->memory_bytes, num[5], sizeof num[5]);
        format_cpu(r->cpu_usec, num[6], sizeof num[6]);
        ret_text[COL_MEM] = num[5];
        ret_text[COL_CPU] = num[6];
        ret_text[COL_GUARD] = num[4];
        ret_text[COL_PID] = num[0];
        ret_text[COL_APP] = num[1];
        ret_text[COL_UID] = num[2];
        ret_text[COL_AGE] = num[3];
        ret_text[COL_IMAGE] = str(r->app_pkg_path);
        ret_text[COL_DATA] = str(r->app_data_dir);
}

/* Columns as wide as their widest cell, two spaces apart; the last one is not
 * padded. Two passes over the list: widths, then lines. */
static void print_table(const RockerInfo *list, int n) {
        size_t width[N_COLS];
        const char *text[N_COLS];
        char num[7][32];

        for (int c = 0; c < N_COLS; c++)
                width[c] = text_width(col_titles[c]);
        for (int i = 0; i < n; i++) {
                row_cells(&list[i], num, text);
                for (int c = 0; c < N_COLS; c++)
                        if (text_width(text[c]) > width[c])
                                width[c] = text_width(text[c]);
        }
        for (int i = -1; i < n; i++) {
                if (i < 0)
                        memcpy(text, col_titles, sizeof text);
                else
                        row_cells(&list[i], num, text);
                for (int c = 0; c < N_COLS; c++)
                        put_text(text[c], c + 1 < N_COLS ? width[c] - text_width(text[c]) + 2 : 0);
                putchar('\n');
        }
        /* Why a figure is missing, once per reason. */
        for (int i = 0; i < n; i++) {
                bool seen = false;

                if (!list[i].cgroup_note)
                        continue;
                for (int j = 0; j < i && !seen; j++)
                        seen = list[j].cgroup_note && !strcmp(list[j].cgroup_note, list[i].cgroup_note);
                if (seen)
                        continue;
                fputs("note: ", stdout);
                put_text(list[i].cgroup_note, 0);
                putchar('\n');
        }
}

/* Length of the valid UTF-8 sequence at s (no overlongs, surrogates or code
 * points past U+10FFFF), 0 if there is none. */
static size_t utf8_valid(const unsigned char *s) {
        size_t n;
        unsigned cp;

        if (s[0] < 0x80)
                return 1;
        if (s[0] >= 0xc2 && s[0] <= 0xdf)
                n = 2, cp = s[0] & 0x1f;
        else if (s[0] >= 0xe0 && s[0] <= 0xef)
                n = 3, cp = s[0] & 0x0f;
        else if (s[0] >= 0xf0 && s[0] <= 0xf4)
                n = 4, cp = s[0] & 0x07;
        else
                return 0;
        for (size_t i = 1; i < n; i++) {
                if ((s[i] & 0xc0) != 0x80)  /* also stops at the NUL */
                        return 0;
                cp = cp << 6 | (s[i] & 0x3f);
        }
        if ((n == 3 && cp < 0x800) || (n == 4 && cp < 0x10000) || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
                return 0;
        return n;
}

/* s as a JSON string. JSON text must be UTF-8: a byte that is not part of
 * valid UTF-8 (paths are bytes) becomes U+FFFD. */
static void put_json_string(const char *s) {
        putchar('"');
        for (const unsigned char *p = (const unsigned char *) s; *p;) {
                size_t n = utf8_valid(p);

                if (n == 0) {
                        fputs("\\ufffd", stdout);
                        p++;
                        continue;
                }
                if (*p == '"' || *p == '\\')
                        printf("\\%c", *p);
                else if (*p == '\n')
                        fputs("\\n", stdout);
                else if (*p == '\t')
                        fputs("\\t", stdout);
                else if (*p < 0x20 || *p == 0x7f)
                        printf("\\u%04x", *p);
                else
                        fwrite(p, 1, n, stdout);
                p += n;
        }
        putchar('"');
}

static void print_json(const RockerInfo *list, int n) {
        putchar('[');
        for (int i = 0; i < n; i++) {
                const RockerInfo *r = &list[i];
                char name[sizeof r->guard_pname + 1];

                snprintf(name, sizeof name, "%.*s", (int) sizeof r->guard_pname, r->guard_pname);
                fputs(i ? ",\n  {" : "\n  {", stdout);
                fputs("\"guard\": ", stdout);
                put_json_string(name);
                printf(", \"pid\": %d, \"app_id\": %d, \"uid\": %d, \"gid\": %d, \"age_ms\": %lld",
                       r->guard_pid, r->app_id, r->uid, r->gid, r->age_ms);
                fputs(", \"image\": ", stdout);
                put_json_string(str(r->app_pkg_path));
                fputs(", \"exec_dir\": ", stdout);
                put_json_string(str(r->app_exec_dir));
                fputs(", \"data_dir\": ", stdout);
                put_json_string(str(r->app_data_dir));
                printf(", \"memory_bytes\": %lld, \"cpu_usec\": %lld, \"cgroup\": ", r->memory_bytes, r->cpu_usec);
                if (r->cgroup)
                        put_json_string(r->cgroup);
                else
                        fputs("null", stdout);
                fputs(", \"cgroup_note\": ", stdout);
                if (r->cgroup_note)
                        put_json_string(r->cgroup_note);
                else
                        fputs("null", stdout);
                putchar('}');
        }
        fputs(n ? "\n]\n" : "]\n", stdout);
}

static int by_age(const void *a, const void *b) {
        long long x = ((const RockerInfo *) a)->age_ms, y = ((const RockerInfo *) b)->age_ms;

        return (x > y) - (x < y);
}

int cli_ps(int argc, char **argv) {
        static const struct option opts[] = {
                { "json", no_argument, NULL, 'j' },
                { "help", no_argument, NULL, 'h' },
                {}
        };
        RockerInfo *list = NULL;
        RockerResult res;
        bool json = false;
        int n = 0, c;

        while ((c = getopt_long(argc, argv, "+:jh", opts, NULL)) >= 0)
                switch (c) {
                case 'j':
                        json = true;
                        break;
                case 'h':
                        fputs(cli_ps_usage, stdout);
                        return CLI_EXIT_OK;
                default:
                        return cli_getopt_error("ps", c, argv);
                }
        if (optind < argc)
                return cli_usage_error("ps", "unexpected argument \"%s\"", argv[optind]);

        res = ROCKER_list_rockers(&list, &n);
        if (res.err_no != ROCKER_ERR_success)
                return cli_lib_error(res.err_no, "ps: cannot list the rockers");
        if (n > 0)
                qsort(list, (size_t) n, sizeof *list, by_age);
        if (json)
                print_json(list, n);
        else
                print_table(list, n);
        ROCKER_free_rockers(list, n);
        if (fflush(stdout) != 0 || ferror(stdout)) {
                cli_error("ps: cannot write the list: %m");
                return CLI_EXIT_ROCKER;
        }
        return CLI_EXIT_OK;
}
