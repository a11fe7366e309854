/* SPDX-License-Identifier: MIT */
/*
 * The volume commands: create, ls, inspect, rm, prune.  They parse their
 * arguments, call volume.c and the catalog, and print; every JSON document
 * is built with jansson.
 */
#include "config.h"

#include <ctype.h>
#include <errno.h>
#include <getopt.h>
#include <jansson.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "cli.h"
#include "metrics.h"
#include "volfs/stage.h"
#include "volfs/catalog.h"
#include "volfs/loader.h"
#include "volfs/options.h"
#include "volfs/util.h"
#include "volfs/volume.h"

/* getopt_long values of options without a short form. */
enum {
	CV_OPT_LABEL = 256,
	CV_OPT_FORMAT,
	CV_OPT_FILTER,
};

/* Seconds since the epoch as RFC 3339 UTC: "2026-11-23T05:44:30Z". */
static void cv_time(int64_t t, char *buf, size_t size)
{
	time_t tt = (time_t)t;
	struct tm tm;

	if (!gmtime_r(&tt, &tm) ||
	    !strftime(buf, size, "%Y-%m-%dT%H:%M:%SZ", &tm))
		snprintf(buf, size, "%lld", (long long)t);
}

/* The length of the valid UTF-8 sequence at s, or 0 if there is none. */
static int cv_utf8_len(const unsigned char *s)
{
	uint32_t cp;
	int n;

	if (s[0] < 0x80)
		return 1;
	if (s[0] >= 0xc2 && s[0] <= 0xdf) {
		n = 2;
		cp = s[0] & 0x1f;
	} else if ((s[0] & 0xf0) == 0xe0) {
		n = 3;
		cp = s[0] & 0x0f;
	} else if (s[0] >= 0xf0 && s[0] <= 0xf4) {
		n = 4;
		cp = s[0] & 0x07;
	} else {
		return 0;
	}
	for (int i = 1; i < n; i++) {
		/* The terminating NUL fails this test too. */
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		cp = cp << 6 | (s[i] & 0x3f);
	}
	if ((n == 3 && cp < 0x800) || (n == 4 && cp < 0x10000) ||
	    cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
		return 0;
	return n;
}

/*
 * A JSON string of s.  JSON text is UTF-8, but labels and options may hold
 * any bytes: a byte that is not part of valid UTF-8 is shown as '?'.
 */
static json_t *cv_json_str(const char *s)
{
	size_t len = strlen(s);
	char *copy;
	json_t *j;

	copy = malloc(len + 1);
	if (!copy)
		return NULL;
	for (size_t i = 0; i < len;) {
		int n = cv_utf8_len((const unsigned char *)s + i);

		if (n == 0) {
			copy[i++] = '?';
			continue;
		}
		memcpy(copy + i, s + i, (size_t)n);
		i += (size_t)n;
	}
	copy[len] = '\0';
	j = json_string(copy);
	free(copy);
	return j;
}

/*
 * A JSON object of key=value pairs.  With be, the values of its secret
 * options are redacted; with hide_all, every value is.
 */
static json_t *cv_kv_json(const struct volfs_kv *v, size_t n,
			  const struct volfs_backend *be, int hide_all)
{
	json_t *obj, *key, *val;

	obj = json_object();
	if (!obj)
		return NULL;
	for (size_t i = 0; i < n; i++) {
		int hide, rc;

		hide = hide_all || (be && volfs_opt_is_secret(be, v[i].key));

		key = cv_json_str(v[i].key);
		val = hide ? json_string(VOLFS_REDACTED)
			   : cv_json_str(v[i].value);
		rc = key && val ? json_object_set(obj, json_string_value(key),
						  val)
				: -1;
		json_decref(key);
		json_decref(val);
		if (rc < 0)
			goto err;
	}
	return obj;

err:
	json_decref(obj);
	return NULL;
}

/* Prints a JSON document and a newline; -ENOMEM if it could not. */
static int cv_json_print(json_t *doc)
{
	if (json_dumpf(doc, stdout, JSON_INDENT(2)) < 0)
		return -ENOMEM;
	putchar('\n');
	return 0;
}

static const char *cv_state_name(enum volfs_volstate state)
{
	switch (state) {
	case VOLFS_VOL_CREATING:
		return "creating";
	case VOLFS_VOL_READY:
		return "ready";
	case VOLFS_VOL_REMOVING:
		return "removing";
	}
	return "unknown";
}

/* Checks every name argument; returns how many are valid. */
static int cv_check_names(int argc, char **argv)
{
	struct volfs_err err = { "" };
	int valid = 0;

	for (int i = 0; i < argc; i++) {
		if (volfs_name_check(argv[i], &err) < 0)
			cli_error("%s", err.msg);
		else
			valid++;
	}
	return valid;
}

/*
 * Filters of ls and prune.  They point into argv: a label filter's key is
 * the first keylen bytes of arg, its value (or NULL: any value) follows.
 */
enum cv_filter_kind {
	CV_FILTER_DANGLING,
	CV_FILTER_BACKEND,
	CV_FILTER_NAME,
	CV_FILTER_LABEL,
};

struct cv_filter {
	enum cv_filter_kind kind;
	const char *arg;
	size_t keylen;
	const char *value;
	int dangling;
};

static int cv_filter_parse(struct cv_filter *f, const char *arg,
			   int label_only, struct volfs_err *err)
{
	const char *eq = strchr(arg, '=');
	const char *val = eq ? eq + 1 : NULL;
	size_t klen = eq ? (size_t)(eq - arg) : strlen(arg);
	const char *known = label_only ? "label"
				       : "dangling, backend, name or label";

	if (!eq)
		return volfs_err_set(err, -EINVAL,
				     "invalid filter '%s': write it as "
				     "KEY=VALUE (filters: %s)",
				     arg, known);
	if (klen == 5 && strncmp(arg, "label", 5) == 0) {
		const char *eq2 = strchr(val, '=');

		f->kind = CV_FILTER_LABEL;
		f->arg = val;
		f->keylen = eq2 ? (size_t)(eq2 - val) : strlen(val);
		f->value = eq2 ? eq2 + 1 : NULL;
		if (f->keylen == 0)
			return volfs_err_set(err, -EINVAL,
					     "invalid filter '%s': write "
					     "label=KEY or label=KEY=VALUE",
					     arg);
		return 0;
	}
	if (label_only)
		goto unknown;
	if (klen == 8 && strncmp(arg, "dangling", 8) == 0) {
		f->kind = CV_FILTER_DANGLING;
		if (!strcmp(val, "true") || !strcmp(val, "1"))
			f->dangling = 1;
		else if (!strcmp(val, "false") || !strcmp(val, "0"))
			f->dangling = 0;
		else
			return volfs_err_set(err, -EINVAL,
					     "invalid filter '%s': write "
					     "dangling=true or dangling=false",
					     arg);
		return 0;
	}
	if ((klen == 7 && strncmp(arg, "backend", 7) == 0) ||
	    (klen == 4 && strncmp(arg, "name", 4) == 0)) {
		f->kind = klen == 4 ? CV_FILTER_NAME : CV_FILTER_BACKEND;
		f->value = val;
		if (!*val)
			return volfs_err_set(err, -EINVAL,
					     "invalid filter '%s': give a "
					     "value after '='",
					     arg);
		return 0;
	}
unknown:
	return volfs_err_set(err, -EINVAL,
			     "unknown filter '%.*s': the filters are %s",
			     (int)klen, arg, known);
}

static int cv_label_match(const struct cv_filter *f,
			  const struct volfs_volume *v)
{
	for (size_t i = 0; i < v->nlabels; i++) {
		const char *key = v->labels[i].key;

		if (strlen(key) != f->keylen ||
		    strncmp(key, f->arg, f->keylen) != 0)
			continue;
		return !f->value || strcmp(v->labels[i].value, f->value) == 0;
	}
	return 0;
}

/* Whether v passes every filter. */
static int cv_match(const struct cv_filter *f, size_t nf,
		    const struct volfs_volume *v)
{
	for (size_t i = 0; i < nf; i++) {
		switch (f[i].kind) {
		case CV_FILTER_DANGLING:
			if ((v->refcount == 0) != f[i].dangling)
				return 0;
			break;
		case CV_FILTER_BACKEND:
			if (strcmp(v->backend, f[i].value) != 0)
				return 0;
			break;
		case CV_FILTER_NAME:
			if (!strstr(v->name, f[i].value))
				return 0;
			break;
		case CV_FILTER_LABEL:
			if (!cv_label_match(&f[i], v))
				return 0;
			break;
		}
	}
	return 1;
}

/* create */

/*
 * Prints text, already indented to column col, wrapped at spaces to fit 79
 * columns; continuation lines are indented by indent.
 */
static void cv_print_wrapped(const char *text, int col, int indent)
{
	const char *p = text;

	while (*p) {
		size_t word = strcspn(p, " ");

		if (col > indent && col + 1 + (int)word > 79) {
			printf("\n%*s", indent, "");
			col = indent;
		} else if (p != text) {
			putchar(' ');
			col++;
		}
		printf("%.*s", (int)word, p);
		col += (int)word;
		p += word;
		while (*p == ' ')
			p++;
	}
	putchar('\n');
}

static void cv_print_backend(const struct volfs_backend *be, void *ctx)
{
	const struct volfs_optdesc *d = be->options;
	char opt[64], *help;

	printf("  %s: ", be->name);
	cv_print_wrapped(be->description ? be->description : "",
			 (int)strlen(be->name) + 4, 6);
	if (!d || !d->key) {
		printf("      (no options)\n");
		return;
	}
	for (; d->key; d++) {
		int width;

		width = snprintf(opt, sizeof(opt), "-o %s=VALUE", d->key);
		if (asprintf(&help, "%s%s%s", d->help ? d->help : "",
			     d->flags & VOLFS_OPT_REQUIRED ? " (required)" : "",
			     d->flags & VOLFS_OPT_SECRET ? " (secret)" : "") <
		    0)
			return;
		printf("      %-20s ", opt);
		if (width >= (int)sizeof(opt))
			width = (int)sizeof(opt) - 1;
		if (width < 20)
			width = 20;
		cv_print_wrapped(help, 7 + width, 27);
		free(help);
	}
}

static void cv_create_usage(void)
{
	int n;

	printf("Usage: volfs create [OPTIONS] [NAME]\n"
	       "\n"
	       "Create a volume and print its name.  Without NAME the volume "
	       "is anonymous\n"
	       "and gets a random 64-hex name.  Names match "
	       "[A-Za-z0-9][A-Za-z0-9_.-]*.\n"
	       "\n"
	       "Options:\n"
	       "  -b, --backend NAME     where the data lives (default: "
	       "%s)\n"
	       "  -o, --opt KEY=VALUE    a backend option; one pair per -o, "
	       "repeat for more\n"
	       "  -o credentials=FILE    read options from FILE, one KEY=VALUE "
	       "a line (for\n"
	       "                         backends with secret options: keeps "
	       "them out of\n"
	       "                         the command line, which every user "
	       "can read)\n"
	       "      --label KEY=VALUE  metadata for filtering; repeat for "
	       "more\n"
	       "  -h, --help             show this help\n"
	       "\n"
	       "Examples:\n"
	       "  volfs create pgdata\n"
	       "  volfs create -b local -o path=/srv/shared shared\n"
	       "  volfs create --label app=web --label tier=cache\n"
	       "\n"
	       "Secret options are stored encrypted with the key in "
	       "STATE/secret.key and\n"
	       "never shown.\n"
	       "\n"
	       "Backends (from %s):\n",
	       VOLFS_DEFAULT_BACKEND, volfs_backend_dir());
	fflush(stdout);
	n = volfs_backend_foreach(cv_print_backend, NULL);
	if (n < 0)
		printf("  (cannot list them: %s)\n", strerror(-n));
	else if (n == 0)
		printf("  (none installed)\n");
}

int cmd_create(struct volfs_cli *cli, int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "backend", required_argument, NULL, 'b' },
		{ "opt", required_argument, NULL, 'o' },
		{ "label", required_argument, NULL, CV_OPT_LABEL },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct volfs_kvlist opts = { 0 }, labels = { 0 };
	const char *backend = VOLFS_DEFAULT_BACKEND, *name = NULL;
	struct volfs_err err = { "" };
	const struct volfs_backend *be;
	struct volfs_catalog *cat;
	char *created = NULL, **optargs;
	int c, nopt = 0, rc = EXIT_FAIL;

	/* Where each -o value is in argv, to scrub secrets from it. */
	optargs = calloc((size_t)argc + 1, sizeof(*optargs));
	if (!optargs) {
		cli_error("cannot create a volume: %s", strerror(ENOMEM));
		return EXIT_FAIL;
	}
	opterr = 0;
	while ((c = getopt_long(argc, argv, ":b:o:h", longopts, NULL)) != -1) {
		switch (c) {
		case 'b':
			backend = optarg;
			break;
		case 'o':
			optargs[nopt++] = optarg;
			if (volfs_kvlist_parse(&opts, optarg, "option",
					       &err) < 0) {
				rc = cli_usage_error("create", "%s", err.msg);
				goto out;
			}
			break;
		case CV_OPT_LABEL:
			if (volfs_kvlist_parse(&labels, optarg, "label",
					       &err) < 0) {
				rc = cli_usage_error("create", "%s", err.msg);
				goto out;
			}
			break;
		case 'h':
			cv_create_usage();
			rc = EXIT_OK;
			goto out;
		default:
			rc = cli_getopt_error("create", argv, c);
			goto out;
		}
	}
	if (argc - optind > 1) {
		rc = cli_usage_error("create",
				     "'create' takes at most one volume name, "
				     "not %d",
				     argc - optind);
		goto out;
	}
	if (optind < argc) {
		name = argv[optind];
		if (volfs_name_check(name, &err) < 0) {
			cli_error("%s", err.msg);
			rc = EXIT_USAGE;
			goto out;
		}
	}
	if (volfs_backend_load(backend, &be, &err) < 0) {
		cli_error("%s", err.msg);
		goto out;
	}
	/*
	 * Secrets given with -o are in our argv, which any user can read in
	 * /proc/PID/cmdline: hide them before anything slow (validate() may
	 * wait for a server).  credentials=FILE keeps them out of it.
	 */
	for (int i = 0; i < nopt; i++)
		volfs_opt_scrub(be, optargs[i]);
	/* Refuse a bad option before the catalog is touched. */
	if (volfs_volume_check_opts(be, opts.v, opts.n, &err) < 0) {
		cli_error("%s", err.msg);
		goto out;
	}
	cat = cli_catalog(cli);
	if (!cat)
		goto out;
	if (volfs_volume_create(cat, name, backend, opts.v, opts.n, labels.v,
				labels.n, &created, &err) < 0) {
		cli_error("%s", err.msg);
		goto out;
	}
	printf("%s\n", created);
	rc = EXIT_OK;
out:
	free(created);
	free(optargs);
	volfs_kvlist_release(&labels);
	volfs_kvlist_release(&opts);
	return rc;
}

/* ls */

static void cv_ls_usage(void)
{
	printf("Usage: volfs ls [OPTIONS]\n"
	       "\n"
	       "List volumes.\n"
	       "\n"
	       "Options:\n"
	       "  -q, --quiet              print only volume names\n"
	       "      --format table|json  output format (default: table)\n"
	       "  -f, --filter KEY=VALUE   show only matching volumes; "
	       "several must all match:\n"
	       "                             dangling=true|false  unused "
	       "or used\n"
	       "                             backend=NAME         stored by "
	       "that backend\n"
	       "                             name=TEXT            name "
	       "contains TEXT\n"
	       "                             label=KEY[=VALUE]    has that "
	       "label\n"
	       "  -h, --help               show this help\n"
	       "\n"
	       "Examples:\n"
	       "  volfs ls\n"
	       "  volfs ls -q --filter dangling=true\n"
	       "  volfs ls --filter backend=local --filter label=app=web\n"
	       "  volfs ls --format json\n");
}

static json_t *cv_ls_json(const struct volfs_volume *v)
{
	char created[64];

	cv_time(v->created, created, sizeof(created));
	return json_pack("{s:o, s:o, s:o, s:b, s:s, s:I}", "name",
			 cv_json_str(v->name), "backend",
			 cv_json_str(v->backend), "labels",
			 cv_kv_json(v->labels, v->nlabels, NULL, 0),
			 "anonymous", v->anonymous, "created", created,
			 "refcount", (json_int_t)v->refcount);
}

static int cv_ls_print_json(const struct volfs_volume *v, size_t n,
			    const struct cv_filter *f, size_t nf)
{
	json_t *arr, *obj;
	int rc = -ENOMEM;

	arr = json_array();
	if (!arr)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++) {
		if (!cv_match(f, nf, &v[i]))
			continue;
		obj = cv_ls_json(&v[i]);
		if (!obj || json_array_append_new(arr, obj) < 0)
			goto out;
	}
	rc = cv_json_print(arr);
out:
	json_decref(arr);
	return rc;
}

static void cv_ls_print_table(const struct volfs_volume *v, size_t n,
			      const struct cv_filter *f, size_t nf)
{
	int wb = (int)strlen("BACKEND"), wn = (int)strlen("NAME");

	for (size_t i = 0; i < n; i++) {
		if (!cv_match(f, nf, &v[i]))
			continue;
		if ((int)strlen(v[i].backend) > wb)
			wb = (int)strlen(v[i].backend);
		if ((int)strlen(v[i].name) > wn)
			wn = (int)strlen(v[i].name);
	}
	printf("%-*s   %-*s   %s\n", wb, "BACKEND", wn, "NAME", "REFS");
	for (size_t i = 0; i < n; i++)
		if (cv_match(f, nf, &v[i]))
			printf("%-*s   %-*s   %u\n", wb, v[i].backend, wn,
			       v[i].name, v[i].refcount);
}

int cmd_ls(struct volfs_cli *cli, int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "quiet", no_argument, NULL, 'q' },
		{ "format", required_argument, NULL, CV_OPT_FORMAT },
		{ "filter", required_argument, NULL, 'f' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct volfs_err err = { "" };
	struct volfs_volume *vols = NULL;
	struct volfs_catalog *cat;
	struct cv_filter *filters;
	int c, n, quiet = 0, json = 0, rc = EXIT_FAIL;
	size_t nf = 0;

	filters = calloc((size_t)argc, sizeof(*filters));
	if (!filters) {
		cli_error("cannot list volumes: %s", strerror(ENOMEM));
		return EXIT_FAIL;
	}
	opterr = 0;
	while ((c = getopt_long(argc, argv, ":qf:h", longopts, NULL)) != -1) {
		switch (c) {
		case 'q':
			quiet = 1;
			break;
		case CV_OPT_FORMAT:
			if (strcmp(optarg, "json") == 0) {
				json = 1;
			} else if (strcmp(optarg, "table") == 0) {
				json = 0;
			} else {
				rc = cli_usage_error("ls",
						     "unknown format '%s': use "
						     "table or json",
						     optarg);
				goto out;
			}
			break;
		case 'f':
			if (cv_filter_parse(&filters[nf], optarg, 0,
					    &err) < 0) {
				rc = cli_usage_error("ls", "%s", err.msg);
				goto out;
			}
			nf++;
			break;
		case 'h':
			cv_ls_usage();
			rc = EXIT_OK;
			goto out;
		default:
			rc = cli_getopt_error("ls", argv, c);
			goto out;
		}
	}
	if (optind < argc) {
		rc = cli_usage_error("ls", "'ls' takes no arguments, not '%s'",
				     argv[optind]);
		goto out;
	}
	cat = cli_catalog(cli);
	if (!cat)
		goto out;
	n = volfs_catalog_list(cat, &vols, &err);
	if (n < 0) {
		cli_error("%s", err.msg);
		goto out;
	}
	if (quiet) {
		for (int i = 0; i < n; i++)
			if (cv_match(filters, nf, &vols[i]))
				printf("%s\n", vols[i].name);
	} else if (json) {
		if (cv_ls_print_json(vols, (size_t)n, filters, nf) < 0) {
			cli_error("cannot list volumes: %s", strerror(ENOMEM));
			goto out_vols;
		}
	} else {
		cv_ls_print_table(vols, (size_t)n, filters, nf);
	}
	rc = EXIT_OK;
out_vols:
	volfs_volumes_free(vols, (size_t)n);
out:
	free(filters);
	return rc;
}

/* inspect */

static void cv_inspect_usage(void)
{
	printf("Usage: volfs inspect NAME...\n"
	       "\n"
	       "Show volumes in detail, as a JSON array.  The values of "
	       "secret options\n"
	       "(credentials) are shown as \"%s\".\n"
	       "\n"
	       "Options:\n"
	       "  -h, --help  show this help\n"
	       "\n"
	       "Examples:\n"
	       "  volfs inspect pgdata\n"
	       "  volfs inspect pgdata cache | jq '.[].mountpoints'\n",
	       VOLFS_REDACTED);
}

static json_t *cv_attachment_json(const struct volfs_attachment *a)
{
	char since[64];

	cv_time(a->since, since, sizeof(since));
	return json_pack("{s:o, s:o, s:b, s:s, s:I}", "consumer",
			 cv_json_str(a->consumer), "target",
			 cv_json_str(a->target ? a->target : ""), "readonly",
			 a->readonly, "since", since, "pid",
			 (json_int_t)a->pid);
}

/* The attachments of v as two arrays: their targets, and in full. */
static int cv_attachments_json(const struct volfs_attachment *a, size_t n,
			       json_t **mountpoints, json_t **attachments)
{
	json_t *mp, *at;

	mp = json_array();
	at = json_array();
	if (!mp || !at)
		goto err;
	for (size_t i = 0; i < n; i++) {
		const char *target = a[i].target ? a[i].target : "";

		if (json_array_append_new(mp, cv_json_str(target)) < 0 ||
		    json_array_append_new(at, cv_attachment_json(&a[i])) < 0)
			goto err;
	}
	*mountpoints = mp;
	*attachments = at;
	return 0;

err:
	json_decref(mp);
	json_decref(at);
	return -ENOMEM;
}

/*
 * The inspect object of one volume, or NULL after printing why not.  If its
 * backend cannot be loaded, which options are secret is unknown: then no
 * option value is shown.
 */
/*
 * A staged volume's cache, as its serving process last published it: the
 * cap (cache_size, or the default it came to), what is used, the memory
 * budget.  Nothing for a volume that is not staged or never opened.
 */
static int cv_cache_json(json_t *obj, const char *state_dir)
{
	struct volfs_stage_stats st;
	json_t *c;

	if (volfs_stage_stats_load(state_dir, &st) < 0)
		return 0;
	c = json_pack("{s:I, s:I, s:I, s:I, s:I, s:I}", "size_cap",
		      (json_int_t)st.cache_cap, "used",
		      (json_int_t)st.cache_used, "dirty_files",
		      (json_int_t)st.dirty_files, "dirty_bytes",
		      (json_int_t)st.dirty_bytes, "memory_used",
		      (json_int_t)st.mem_used, "memory_budget",
		      (json_int_t)st.mem_budget);
	if (!c || json_object_set_new(obj, "cache", c) < 0)
		return -ENOMEM;
	return 0;
}

static json_t *cv_inspect_one(struct volfs_catalog *cat, const char *name)
{
	struct volfs_attachment *att = NULL;
	json_t *obj = NULL, *mp, *at;
	const struct volfs_backend *be;
	struct volfs_err err = { "" };
	struct volfs_volume v = { 0 };
	char created[64], *state_dir;
	int rc, natt;

	rc = volfs_catalog_get(cat, name, &v, &err);
	if (rc == -ENOENT) {
		cli_error("no such volume: '%s'", name);
		return NULL;
	}
	if (rc < 0) {
		cli_error("%s", err.msg);
		return NULL;
	}
	natt = volfs_catalog_attachments(cat, name, &att, &err);
	if (natt < 0) {
		cli_error("%s", err.msg);
		goto out_vol;
	}
	if (volfs_backend_load(v.backend, &be, &err) < 0) {
		volfs_log(VOLFS_LOG_WARNING, "%s: hiding every option value",
			  err.msg);
		be = NULL;
	}
	state_dir = volfs_volume_state_dir(cat, name);
	if (!state_dir || cv_attachments_json(att, (size_t)natt, &mp, &at) < 0)
		goto out_nomem;
	cv_time(v.created, created, sizeof(created));
	obj = json_pack("{s:o, s:o, s:o, s:o, s:b, s:s, s:s, s:o, s:I, s:o, "
			"s:o}",
			"name", cv_json_str(v.name), "backend",
			cv_json_str(v.backend), "options",
			cv_kv_json(v.opts, v.nopts, be, be == NULL), "labels",
			cv_kv_json(v.labels, v.nlabels, NULL, 0), "anonymous",
			v.anonymous, "created", created, "state",
			cv_state_name(v.state), "state_dir",
			cv_json_str(state_dir), "refcount",
			(json_int_t)v.refcount,
			"mountpoints", mp, "attachments", at);
	if (!obj)
		goto out_nomem;
	if (cv_cache_json(obj, state_dir) < 0) {
		json_decref(obj);
		obj = NULL;
		goto out_nomem;
	}
	goto out_dir;

out_nomem:
	cli_error("cannot show volume '%s': %s", name, strerror(ENOMEM));
out_dir:
	free(state_dir);
	volfs_attachments_free(att, (size_t)natt);
out_vol:
	volfs_volume_release(&v);
	return obj;
}

int cmd_inspect(struct volfs_cli *cli, int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct volfs_catalog *cat = NULL;
	int c, nvalid, rc = EXIT_OK;
	json_t *arr, *obj;

	opterr = 0;
	while ((c = getopt_long(argc, argv, ":h", longopts, NULL)) != -1) {
		switch (c) {
		case 'h':
			cv_inspect_usage();
			return EXIT_OK;
		default:
			return cli_getopt_error("inspect", argv, c);
		}
	}
	if (optind >= argc)
		return cli_usage_error("inspect",
				       "'inspect' needs at least one volume "
				       "name");
	nvalid = cv_check_names(argc - optind, argv + optind);
	if (nvalid < argc - optind)
		rc = EXIT_USAGE;
	if (nvalid > 0) {
		cat = cli_catalog(cli);
		if (!cat)
			return EXIT_FAIL;
	}
	arr = json_array();
	if (!arr)
		goto err_nomem;
	for (int i = optind; i < argc; i++) {
		if (volfs_name_check(argv[i], NULL) < 0)
			continue;
		obj = cv_inspect_one(cat, argv[i]);
		if (!obj) {
			rc = EXIT_FAIL;
			continue;
		}
		if (json_array_append_new(arr, obj) < 0)
			goto err_arr;
	}
	if (cv_json_print(arr) < 0)
		goto err_arr;
	json_decref(arr);
	return rc;

err_arr:
	json_decref(arr);
err_nomem:
	cli_error("cannot show volumes: %s", strerror(ENOMEM));
	return EXIT_FAIL;
}

/* rm */

static void cv_rm_usage(void)
{
	printf("Usage: volfs rm [OPTIONS] NAME...\n"
	       "\n"
	       "Remove volumes and delete their data.  A volume in use (by a "
	       "container or a\n"
	       "'volfs mount') is kept unless -f is given; each removed name "
	       "is printed.\n"
	       "\n"
	       "Options:\n"
	       "  -f, --force  remove even while in use: its mounts are "
	       "detached first\n"
	       "  -h, --help   show this help\n"
	       "\n"
	       "Examples:\n"
	       "  volfs rm pgdata\n"
	       "  volfs rm -f cache scratch\n");
}

int cmd_rm(struct volfs_cli *cli, int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "force", no_argument, NULL, 'f' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct volfs_err err = { "" };
	struct volfs_catalog *cat;
	int c, force = 0, nvalid, rc = EXIT_OK;

	opterr = 0;
	while ((c = getopt_long(argc, argv, ":fh", longopts, NULL)) != -1) {
		switch (c) {
		case 'f':
			force = 1;
			break;
		case 'h':
			cv_rm_usage();
			return EXIT_OK;
		default:
			return cli_getopt_error("rm", argv, c);
		}
	}
	if (optind >= argc)
		return cli_usage_error("rm",
				       "'rm' needs at least one volume name");
	nvalid = cv_check_names(argc - optind, argv + optind);
	if (nvalid < argc - optind)
		rc = EXIT_USAGE;
	if (nvalid == 0)
		return rc;
	cat = cli_catalog(cli);
	if (!cat)
		return EXIT_FAIL;
	for (int i = optind; i < argc; i++) {
		if (volfs_name_check(argv[i], NULL) < 0)
			continue;
		if (volfs_volume_remove(cat, argv[i], force, &err) < 0) {
			cli_error("%s", err.msg);
			rc = EXIT_FAIL;
			continue;
		}
		printf("%s\n", argv[i]);
		fflush(stdout);
	}
	return rc;
}

/* prune */

static void cv_prune_usage(void)
{
	printf("Usage: volfs prune [OPTIONS]\n"
	       "\n"
	       "Remove unused volumes: those no container or mount uses.  "
	       "Only anonymous\n"
	       "volumes are removed unless -a is given.\n"
	       "\n"
	       "Options:\n"
	       "  -a, --all                    remove unused named volumes "
	       "too\n"
	       "  -f, --force                  do not ask for confirmation\n"
	       "      --filter label=KEY[=VALUE]\n"
	       "                               only volumes with that label; "
	       "repeat for more\n"
	       "  -h, --help                   show this help\n"
	       "\n"
	       "Examples:\n"
	       "  volfs prune\n"
	       "  volfs prune -a -f --filter label=ci=true\n");
}

/* Asks whether to go on; 1 for "y" or "yes", 0 for anything else or EOF. */
static int cv_confirm(size_t n, int all)
{
	char *line = NULL, *p, *end;
	size_t cap = 0;
	int yes = 0;

	printf("WARNING! This will remove %zu %svolume(s) that no container "
	       "or mount uses.\n"
	       "Are you sure you want to continue? [y/N] ",
	       n, all ? "" : "anonymous ");
	fflush(stdout);
	if (getline(&line, &cap, stdin) < 0) {
		putchar('\n');
		goto out;
	}
	for (p = line; isspace((unsigned char)*p); p++)
		;
	end = p + strlen(p);
	while (end > p && isspace((unsigned char)end[-1]))
		*--end = '\0';
	yes = !strcasecmp(p, "y") || !strcasecmp(p, "yes");
out:
	free(line);
	return yes;
}

static int cv_prune_candidate(const struct volfs_volume *v, int all,
			      const struct cv_filter *f, size_t nf)
{
	return v->state == VOLFS_VOL_READY && v->refcount == 0 &&
	       (all || v->anonymous) && cv_match(f, nf, v);
}

/*
 * Removes the candidates, counting them in *removed.  One that came into use
 * since the list was made is skipped.  Returns -EIO if any other removal
 * failed (after trying the rest), else 0.
 */
static int cv_prune_remove(struct volfs_catalog *cat,
			   const struct volfs_volume *v, size_t n, int all,
			   const struct cv_filter *f, size_t nf,
			   size_t *removed)
{
	struct volfs_err err = { "" };
	int failed = 0, rc;

	for (size_t i = 0; i < n; i++) {
		if (!cv_prune_candidate(&v[i], all, f, nf))
			continue;
		rc = volfs_volume_remove(cat, v[i].name, 0, &err);
		if (rc == -EBUSY) {
			fprintf(stderr,
				"volfs: note: skipped volume '%s': it came "
				"into use, or began to be removed, during "
				"the prune\n",
				v[i].name);
			continue;
		}
		if (rc == -ENOENT)
			continue;
		if (rc < 0) {
			cli_error("%s", err.msg);
			failed = 1;
			continue;
		}
		if (*removed == 0)
			printf("Deleted Volumes:\n");
		printf("%s\n", v[i].name);
		fflush(stdout);
		(*removed)++;
	}
	return failed ? -EIO : 0;
}

int cmd_prune(struct volfs_cli *cli, int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "all", no_argument, NULL, 'a' },
		{ "force", no_argument, NULL, 'f' },
		{ "filter", required_argument, NULL, CV_OPT_FILTER },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct volfs_err err = { "" };
	struct volfs_volume *vols = NULL;
	struct volfs_catalog *cat;
	struct cv_filter *filters;
	int c, n = 0, all = 0, force = 0, failed = 0, rc = EXIT_FAIL;
	size_t nf = 0, ncand = 0, removed = 0;

	filters = calloc((size_t)argc, sizeof(*filters));
	if (!filters) {
		cli_error("cannot prune volumes: %s", strerror(ENOMEM));
		return EXIT_FAIL;
	}
	opterr = 0;
	while ((c = getopt_long(argc, argv, ":afh", longopts, NULL)) != -1) {
		switch (c) {
		case 'a':
			all = 1;
			break;
		case 'f':
			force = 1;
			break;
		case CV_OPT_FILTER:
			if (cv_filter_parse(&filters[nf], optarg, 1,
					    &err) < 0) {
				rc = cli_usage_error("prune", "%s", err.msg);
				goto out;
			}
			nf++;
			break;
		case 'h':
			cv_prune_usage();
			rc = EXIT_OK;
			goto out;
		default:
			rc = cli_getopt_error("prune", argv, c);
			goto out;
		}
	}
	if (optind < argc) {
		rc = cli_usage_error("prune",
				     "'prune' takes no arguments, not '%s'",
				     argv[optind]);
		goto out;
	}
	cat = cli_catalog(cli);
	if (!cat)
		goto out;
	n = volfs_catalog_list(cat, &vols, &err);
	if (n < 0) {
		cli_error("%s", err.msg);
		goto out;
	}
	for (int i = 0; i < n; i++)
		if (cv_prune_candidate(&vols[i], all, filters, nf))
			ncand++;
	if (ncand > 0 && !force && !cv_confirm(ncand, all)) {
		rc = EXIT_OK;
		goto out_vols;
	}
	if (ncand > 0)
		failed = cv_prune_remove(cat, vols, (size_t)n, all, filters,
					 nf, &removed) < 0;
	if (removed > 0)
		putchar('\n');
	printf("Total: %zu volume(s) removed\n", removed);
	rc = failed ? EXIT_FAIL : EXIT_OK;
out_vols:
	volfs_volumes_free(vols, (size_t)n);
out:
	free(filters);
	return rc;
}
