/* SPDX-License-Identifier: MIT */
/*
 * volfs stats: the counters of staged volumes (volfs/stage.h), as the
 * process serving each one publishes them in its state directory, one row
 * per volume, or as JSON built with jansson.
 */
#include "config.h"

#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "metrics.h"
#include "volfs/catalog.h"
#include "volfs/stage.h"
#include "volfs/util.h"
#include "volfs/volume.h"

enum {
	STATS_OPT_FORMAT = 256,
};

void cli_human_bytes(uint64_t n, char *buf, size_t size)
{
	static const char *const unit[] = { "KiB", "MiB", "GiB", "TiB",
					    "PiB", "EiB" };
	double v = (double)n;
	unsigned u = 0;

	if (n < 1024) {
		snprintf(buf, size, "%" PRIu64 "B", n);
		return;
	}
	v /= 1024;
	while (v >= 1024 && u + 1 < sizeof(unit) / sizeof(unit[0])) {
		v /= 1024;
		u++;
	}
	snprintf(buf, size, "%.1f%s", v, unit[u]);
}

static void stats_usage(void)
{
	printf("Usage: volfs stats [--format table|json] [NAME...]\n"
	       "\n"
	       "Show the counters of staged volumes (those of remote "
	       "backends, whose file data\n"
	       "is kept on local disk and uploaded in the background): "
	       "without NAME, of every\n"
	       "one that has been opened.  SERVED is the pid of the volfs "
	       "process serving the\n"
	       "volume, or '-' when none does: the counters are then the "
	       "last it published.\n"
	       "\n"
	       "Columns: DIRTY files (and DIRTY_BYTES) changed here and not "
	       "on the store yet;\n"
	       "UPLOADING now; FAILED files whose last upload failed (they "
	       "are retried);\n"
	       "CACHE used and its cap; HIT%% of opens served from a kept "
	       "copy; bytes SENT to\n"
	       "and RECEIVED from the store; REQUESTS made to it and the "
	       "ERRORS among them.\n"
	       "The counts (all but DIRTY, UPLOADING, FAILED and CACHE) "
	       "start again each time\n"
	       "the volume is opened.\n"
	       "\n"
	       "Options:\n"
	       "      --format table|json  output format (default: table)\n"
	       "  -h, --help               show this help\n"
	       "\n"
	       "Examples:\n"
	       "  volfs stats\n"
	       "  volfs stats --format json share | jq '.[0].dirty_files'\n");
}

/* One volume's row. */
struct stats_row {
	char *name;
	struct volfs_stage_stats st;
	/* The serving process, or 0. */
	int served_by;
};

/*
 * Reads the counters of volume name into *row.  Returns 0; -ENOENT when
 * the volume has none (it is not staged, or has never been opened), after
 * saying so when loud; or -errno after saying why.
 */
static int stats_read(struct volfs_catalog *cat, const char *name,
		      struct stats_row *row, int loud)
{
	char *dir;
	int rc;

	dir = volfs_volume_state_dir(cat, name);
	if (!dir) {
		cli_error("cannot read the counters of volume '%s': %s", name,
			  strerror(ENOMEM));
		return -ENOMEM;
	}
	rc = volfs_stage_stats_load(dir, &row->st);
	if (rc == -ENOENT) {
		if (loud)
			cli_error("volume '%s' is not staged: %s/%s does not "
				  "exist (only volumes of remote backends "
				  "keep a staging cache, from their first "
				  "mount on)",
				  name, dir, VOLFS_STAGE_STATS_FILE);
		goto out;
	}
	if (rc == -EINVAL) {
		cli_error("cannot read the counters of volume '%s': %s/%s "
			  "holds no counters of this volfs (wrong magic or "
			  "size)",
			  name, dir, VOLFS_STAGE_STATS_FILE);
		goto out;
	}
	if (rc < 0) {
		cli_error("cannot read the counters of volume '%s': %s/%s: %s",
			  name, dir, VOLFS_STAGE_STATS_FILE, strerror(-rc));
		goto out;
	}
	rc = volfs_stage_stats_holder(dir, &row->st);
	if (rc < 0) {
		cli_error("cannot tell who serves volume '%s': %s/%s: %s",
			  name, dir, VOLFS_STAGE_LOCK_FILE, strerror(-rc));
		goto out;
	}
	row->served_by = rc;
	rc = 0;
out:
	free(dir);
	return rc;
}

/* The rows being gathered: every staged volume of the catalog. */
struct stats_rows {
	struct volfs_catalog *cat;
	struct stats_row *v;
	size_t n, cap;
	int failed;
};

/*
 * Adds the row of volume name: 0, or -errno after saying why not (-ENOENT:
 * it has no counters, said only when loud).
 */
static int stats_rows_add(struct stats_rows *r, const char *name, int loud)
{
	struct stats_row *row;
	int rc;

	if (r->n == r->cap) {
		size_t cap = r->cap ? r->cap * 2 : 16;
		struct stats_row *v = realloc(r->v, cap * sizeof(*v));

		if (!v)
			goto err_nomem;
		r->v = v;
		r->cap = cap;
	}
	row = &r->v[r->n];
	memset(row, 0, sizeof(*row));
	rc = stats_read(r->cat, name, row, loud);
	if (rc < 0)
		return rc;
	row->name = strdup(name);
	if (!row->name)
		goto err_nomem;
	r->n++;
	return 0;

err_nomem:
	cli_error("cannot show volume '%s': %s", name, strerror(ENOMEM));
	return -ENOMEM;
}

static void stats_every_fn(void *arg, const char *name)
{
	struct stats_rows *r = arg;
	int rc = stats_rows_add(r, name, 0);

	/* A volume with no counters is not staged: not listed. */
	if (rc < 0 && rc != -ENOENT)
		r->failed = 1;
}

static void stats_rows_release(struct stats_rows *r)
{
	for (size_t i = 0; i < r->n; i++)
		free(r->v[i].name);
	free(r->v);
}

static json_t *stats_row_json(const struct stats_row *row)
{
	const struct volfs_stage_stats *st = &row->st;

	return json_pack(
		"{s:s, s:o, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, "
		"s:I, s:I, s:I, s:I, s:I, s:I}",
		"name", row->name, "served_by",
		row->served_by > 0 ? json_integer(row->served_by) : json_null(),
		"dirty_files", (json_int_t)st->dirty_files, "dirty_bytes",
		(json_int_t)st->dirty_bytes, "uploading",
		(json_int_t)st->uploading, "failed_files",
		(json_int_t)st->failed_files, "uploads",
		(json_int_t)st->uploads, "upload_failures",
		(json_int_t)st->upload_failures, "cache_used",
		(json_int_t)st->cache_used, "cache_cap",
		(json_int_t)st->cache_cap, "hits", (json_int_t)st->hits,
		"misses", (json_int_t)st->misses, "bytes_in",
		(json_int_t)st->bytes_in, "bytes_out",
		(json_int_t)st->bytes_out, "requests",
		(json_int_t)st->requests, "errors", (json_int_t)st->errors,
		"mem_used", (json_int_t)st->mem_used, "mem_budget",
		(json_int_t)st->mem_budget);
}

static int stats_print_json(const struct stats_rows *r)
{
	json_t *arr, *obj;
	int rc = -ENOMEM;

	arr = json_array();
	if (!arr)
		return -ENOMEM;
	for (size_t i = 0; i < r->n; i++) {
		obj = stats_row_json(&r->v[i]);
		if (!obj || json_array_append_new(arr, obj) < 0)
			goto out;
	}
	if (json_dumpf(arr, stdout, JSON_INDENT(2)) < 0)
		goto out;
	putchar('\n');
	rc = 0;
out:
	json_decref(arr);
	return rc;
}

/* The cells of one row, as the table prints them. */
enum {
	STATS_NAME,
	STATS_SERVED,
	STATS_DIRTY,
	STATS_DIRTY_BYTES,
	STATS_UPLOADING,
	STATS_FAILED,
	STATS_CACHE,
	STATS_HIT,
	STATS_SENT,
	STATS_RECEIVED,
	STATS_REQUESTS,
	STATS_ERRORS,
	STATS_NCOLS
};

static const char *const stats_head[STATS_NCOLS] = {
	"NAME",	  "SERVED", "DIRTY",	"DIRTY_BYTES", "UPLOADING", "FAILED",
	"CACHE", "HIT%",   "SENT",	"RECEIVED",    "REQUESTS",  "ERRORS",
};

#define STATS_CELL 48

static void stats_cells(const struct stats_row *row,
			char cell[STATS_NCOLS][STATS_CELL])
{
	const struct volfs_stage_stats *st = &row->st;
	char used[24], cap[24];
	uint64_t opens = st->hits + st->misses;

	if (row->served_by > 0)
		snprintf(cell[STATS_SERVED], STATS_CELL, "%d", row->served_by);
	else
		snprintf(cell[STATS_SERVED], STATS_CELL, "-");
	snprintf(cell[STATS_DIRTY], STATS_CELL, "%" PRIu64, st->dirty_files);
	cli_human_bytes(st->dirty_bytes, cell[STATS_DIRTY_BYTES], STATS_CELL);
	snprintf(cell[STATS_UPLOADING], STATS_CELL, "%" PRIu64, st->uploading);
	snprintf(cell[STATS_FAILED], STATS_CELL, "%" PRIu64,
		 st->failed_files);
	cli_human_bytes(st->cache_used, used, sizeof(used));
	cli_human_bytes(st->cache_cap, cap, sizeof(cap));
	snprintf(cell[STATS_CACHE], STATS_CELL, "%s/%s", used, cap);
	if (opens)
		snprintf(cell[STATS_HIT], STATS_CELL, "%.1f%%",
			 100.0 * (double)st->hits / (double)opens);
	else
		snprintf(cell[STATS_HIT], STATS_CELL, "-");
	cli_human_bytes(st->bytes_out, cell[STATS_SENT], STATS_CELL);
	cli_human_bytes(st->bytes_in, cell[STATS_RECEIVED], STATS_CELL);
	snprintf(cell[STATS_REQUESTS], STATS_CELL, "%" PRIu64, st->requests);
	snprintf(cell[STATS_ERRORS], STATS_CELL, "%" PRIu64, st->errors);
}

static int stats_print_table(const struct stats_rows *r)
{
	char (*cells)[STATS_NCOLS][STATS_CELL];
	int width[STATS_NCOLS];

	cells = calloc(r->n ? r->n : 1, sizeof(*cells));
	if (!cells)
		return -ENOMEM;
	for (int c = 0; c < STATS_NCOLS; c++)
		width[c] = (int)strlen(stats_head[c]);
	for (size_t i = 0; i < r->n; i++) {
		stats_cells(&r->v[i], cells[i]);
		if ((int)strlen(r->v[i].name) > width[STATS_NAME])
			width[STATS_NAME] = (int)strlen(r->v[i].name);
		for (int c = 1; c < STATS_NCOLS; c++)
			if ((int)strlen(cells[i][c]) > width[c])
				width[c] = (int)strlen(cells[i][c]);
	}
	for (int c = 0; c < STATS_NCOLS; c++)
		printf("%-*s%s", c + 1 < STATS_NCOLS ? width[c] : 0,
		       stats_head[c], c + 1 < STATS_NCOLS ? "   " : "\n");
	for (size_t i = 0; i < r->n; i++) {
		printf("%-*s   ", width[STATS_NAME], r->v[i].name);
		for (int c = 1; c < STATS_NCOLS; c++)
			printf("%-*s%s", c + 1 < STATS_NCOLS ? width[c] : 0,
			       cells[i][c], c + 1 < STATS_NCOLS ? "   " : "\n");
	}
	free(cells);
	return 0;
}

/* Gathers the rows of the named volumes; each failure is said. */
static void stats_named(struct stats_rows *r, int argc, char **argv)
{
	struct volfs_err err = { "" };
	struct volfs_volume v;
	int rc;

	for (int i = 0; i < argc; i++) {
		if (volfs_name_check(argv[i], NULL) < 0)
			continue;
		rc = volfs_catalog_peek(r->cat, argv[i], &v, &err);
		if (rc == -ENOENT) {
			cli_error("no such volume: '%s'", argv[i]);
			r->failed = 1;
			continue;
		}
		if (rc < 0) {
			cli_error("%s", err.msg);
			r->failed = 1;
			continue;
		}
		volfs_volume_release(&v);
		if (stats_rows_add(r, argv[i], 1) < 0)
			r->failed = 1;
	}
}

int cmd_stats(struct volfs_cli *cli, int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "format", required_argument, NULL, STATS_OPT_FORMAT },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct volfs_err err = { "" };
	struct stats_rows r = { 0 };
	int c, json = 0, nvalid = 0, show, rc = EXIT_OK;

	opterr = 0;
	while ((c = getopt_long(argc, argv, ":h", longopts, NULL)) != -1) {
		switch (c) {
		case STATS_OPT_FORMAT:
			if (strcmp(optarg, "json") == 0)
				json = 1;
			else if (strcmp(optarg, "table") == 0)
				json = 0;
			else
				return cli_usage_error("stats",
						       "unknown format '%s': "
						       "use table or json",
						       optarg);
			break;
		case 'h':
			stats_usage();
			return EXIT_OK;
		default:
			return cli_getopt_error("stats", argv, c);
		}
	}
	for (int i = optind; i < argc; i++) {
		if (volfs_name_check(argv[i], &err) < 0) {
			cli_error("%s", err.msg);
			rc = EXIT_USAGE;
		} else {
			nvalid++;
		}
	}
	if (optind < argc && nvalid == 0)
		return rc;
	r.cat = cli_catalog(cli);
	if (!r.cat)
		return EXIT_FAIL;
	if (optind < argc) {
		stats_named(&r, argc - optind, argv + optind);
	} else if (volfs_catalog_names(r.cat, stats_every_fn, &r, &err) < 0) {
		cli_error("%s", err.msg);
		r.failed = 1;
	}
	/* No table of nothing when none of the volumes asked for has one. */
	show = json || r.n > 0 || optind == argc;
	if (show && (json ? stats_print_json(&r) : stats_print_table(&r))) {
		cli_error("cannot show the counters: %s", strerror(ENOMEM));
		r.failed = 1;
	}
	if (r.failed && rc == EXIT_OK)
		rc = EXIT_FAIL;
	stats_rows_release(&r);
	return rc;
}
