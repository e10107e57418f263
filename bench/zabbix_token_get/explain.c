/*
 * explain: EXPLAIN QUERY PLAN and in-process timing of the token.get SQL, linked against the
 * very SQLite that tessera bundles (libsqlite3-sys's libsqlite3.a from target/release/build),
 * so the plans are the ones the server gets, not those of the system's sqlite3 CLI.
 *
 * Usage: explain DB CASEFILE BUDGET_MS MAX_RUNS [SETUP_SQL]
 *
 * CASEFILE holds blocks of
 *     @ label
 *     SQL on one line, with ? placeholders
 *     i 123        (an integer parameter)
 *     t some text  (a text parameter)
 *     .
 * For each block it prints the plan and, after one untimed run, the median and worst time of
 * up to MAX_RUNS runs (stopping once BUDGET_MS have been spent on the block).
 * The database is opened read-only, unless SETUP_SQL is given: then it is opened read-write and
 * SETUP_SQL (e.g. ANALYZE, CREATE INDEX) runs first, timed.
 */
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define MAX_PARAMS 32

struct param {
    char type;
    char *text;
    long long integer;
};

static double now_ms(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec * 1000.0 + (double)t.tv_nsec / 1e6;
}

static int compare(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static void bind_all(sqlite3_stmt *stmt, struct param *params, int n) {
    for (int i = 0; i < n; i++) {
        if (params[i].type == 'i') {
            sqlite3_bind_int64(stmt, i + 1, params[i].integer);
        } else {
            sqlite3_bind_text(stmt, i + 1, params[i].text, -1, SQLITE_TRANSIENT);
        }
    }
}

static void die(sqlite3 *db, const char *what) {
    fprintf(stderr, "explain: %s: %s\n", what, db ? sqlite3_errmsg(db) : "");
    exit(1);
}

/* Runs the statement to the end; returns the rows it gave. */
static long run(sqlite3 *db, sqlite3_stmt *stmt) {
    long rows = 0;
    int rc;
    while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
        rows++;
    }
    if (rc != SQLITE_DONE) {
        die(db, "step");
    }
    sqlite3_reset(stmt);
    return rows;
}

static void one_case(sqlite3 *db, const char *label, const char *sql, struct param *params,
                     int n, double budget_ms, int max_runs) {
    printf("@ %s\n", label);
    char *eqp = malloc(strlen(sql) + 32);
    sprintf(eqp, "EXPLAIN QUERY PLAN %s", sql);
    sqlite3_stmt *stmt;
    if (sqlite3_prepare_v2(db, eqp, -1, &stmt, NULL) != SQLITE_OK) {
        die(db, "prepare EXPLAIN QUERY PLAN");
    }
    bind_all(stmt, params, n);
    /* Rows are (id, parent, notused, detail); indent each by its depth. */
    int ids[256], depth[256], seen = 0;
    while (sqlite3_step(stmt) == SQLITE_ROW) {
        int id = sqlite3_column_int(stmt, 0), parent = sqlite3_column_int(stmt, 1);
        int d = 0;
        for (int k = 0; k < seen; k++) {
            if (ids[k] == parent) {
                d = depth[k] + 1;
            }
        }
        if (seen < 256) {
            ids[seen] = id;
            depth[seen] = d;
            seen++;
        }
        printf("plan: %*s%s\n", 2 * d, "", (const char *)sqlite3_column_text(stmt, 3));
    }
    sqlite3_finalize(stmt);
    free(eqp);

    if (sqlite3_prepare_v2(db, sql, -1, &stmt, NULL) != SQLITE_OK) {
        die(db, "prepare");
    }
    bind_all(stmt, params, n);
    long rows = run(db, stmt); /* warm-up, untimed */
    double *times = malloc(sizeof(double) * (size_t)max_runs);
    int runs = 0;
    double spent = 0;
    while (runs < max_runs && spent < budget_ms) {
        double start = now_ms();
        run(db, stmt);
        double took = now_ms() - start;
        times[runs++] = took;
        spent += took;
    }
    sqlite3_finalize(stmt);
    qsort(times, (size_t)runs, sizeof(double), compare);
    printf("rows: %ld\nruns: %d\nmedian_ms: %.3f\nmax_ms: %.3f\n.\n", rows, runs,
           times[runs / 2], times[runs - 1]);
    free(times);
    fflush(stdout);
}

int main(int argc, char **argv) {
    if (argc != 5 && argc != 6) {
        fprintf(stderr, "usage: explain DB CASEFILE BUDGET_MS MAX_RUNS [SETUP_SQL]\n");
        return 2;
    }
    sqlite3 *db;
    int flags = argc == 6 ? SQLITE_OPEN_READWRITE : SQLITE_OPEN_READONLY;
    if (sqlite3_open_v2(argv[1], &db, flags, NULL) != SQLITE_OK) {
        die(db, "open");
    }
    printf("sqlite_version: %s\n", sqlite3_libversion());
    if (argc == 6) {
        double start = now_ms();
        char *error = NULL;
        if (sqlite3_exec(db, argv[5], NULL, NULL, &error) != SQLITE_OK) {
            fprintf(stderr, "explain: setup: %s\n", error ? error : "");
            return 1;
        }
        printf("setup: %s\nsetup_ms: %.0f\n", argv[5], now_ms() - start);
    }
    FILE *cases = fopen(argv[2], "r");
    if (!cases) {
        perror("explain: case file");
        return 1;
    }
    double budget_ms = atof(argv[3]);
    int max_runs = atoi(argv[4]);
    if (max_runs < 1) {
        max_runs = 1;
    }
    static char line[65536];
    char label[256] = "", *sql = NULL;
    struct param params[MAX_PARAMS];
    int n = 0;
    while (fgets(line, sizeof line, cases)) {
        line[strcspn(line, "\n")] = 0;
        if (line[0] == '@' && line[1] == ' ') {
            snprintf(label, sizeof label, "%s", line + 2);
            free(sql);
            sql = NULL;
            for (int k = 0; k < n; k++) {
                free(params[k].text);
            }
            n = 0;
        } else if (strcmp(line, ".") == 0) {
            if (sql) {
                one_case(db, label, sql, params, n, budget_ms, max_runs);
            }
        } else if (!sql) {
            sql = strdup(line);
        } else if (n < MAX_PARAMS && (line[0] == 'i' || line[0] == 't') && line[1] == ' ') {
            params[n].type = line[0];
            params[n].text = strdup(line + 2);
            params[n].integer = atoll(line + 2);
            n++;
        }
    }
    fclose(cases);
    sqlite3_close(db);
    return 0;
}
