/* SPDX-License-Identifier: MIT */
/*
 * The staging layer's volume: its table of staged files, options,
 * opening and closing.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include "volfs/backend_util.h"
#include "pathcache.h"
#include "stage_int.h"

#define STAGE_TTL_DEFAULT_MS 1000u
#define STAGE_TTL_MAX_S 86400u
#define STAGE_TIMEOUT_DEFAULT_MS 20000
#define STAGE_DELAY_MAX_MS 3600000u
#define STAGE_CAP_MAX_DEFAULT ((uint64_t)10 << 30)
#define STAGE_CAP_MIN ((uint64_t)16 << 20)

int64_t stage_deadline(const struct stage *s)
{
	return volfs_store_deadline(s->timeout_ms);
}

int64_t stage_deadline_for(const struct stage *s, off_t bytes)
{
	/* timeout= bounds a wait for the server; a transfer may take as
	 * long as moving its bytes at 1 MiB/s besides. */
	return volfs_store_deadline(s->timeout_ms + bytes / 1049);
}

int stage_unreachable(int rc)
{
	switch (-rc) {
	case EHOSTUNREACH:
	case ENETUNREACH:
	case ETIMEDOUT:
	case ECONNREFUSED:
	case ECONNRESET:
	case ECONNABORTED:
	case EIO:
	case EAGAIN:
		return 1;
	default:
		return 0;
	}
}

void stage_log(const struct stage *s, int level, const char *fmt, ...)
{
	char msg[1024];
	va_list ap;

	if (!s->vi->log)
		return;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	s->vi->log(level, "volume '%s': %s", s->vi->name, msg);
}

const char *stage_path(const char *path)
{
	return strcmp(path, ".") == 0 ? "" : path;
}

int stage_below(const char *path, const char *dir)
{
	size_t n = strlen(dir);

	if (!n)
		return 1;
	return strncmp(path, dir, n) == 0 &&
	       (path[n] == '\0' || path[n] == '/');
}

static size_t stage_hash(const char *path)
{
	size_t h = 14695981039346656037ull;

	for (; *path; path++)
		h = (h ^ (unsigned char)*path) * 1099511628211ull;
	return h;
}

struct stage_file *stage_find(struct stage *s, const char *path)
{
	struct stage_file *f;

	if (!s->nbuckets)
		return NULL;
	for (f = s->tab[stage_hash(path) % s->nbuckets]; f; f = f->hnext)
		if (strcmp(f->path, path) == 0)
			return f;
	return NULL;
}

static void stage_rehash(struct stage *s)
{
	size_t n = s->nbuckets ? s->nbuckets * 2 : 64;
	struct stage_file **tab = calloc(n, sizeof(*tab));

	/* Without memory the chains just grow longer. */
	if (!tab)
		return;
	for (size_t i = 0; i < s->nbuckets; i++) {
		struct stage_file *f, *next;

		for (f = s->tab[i]; f; f = next) {
			size_t b = stage_hash(f->path) % n;

			next = f->hnext;
			f->hnext = tab[b];
			tab[b] = f;
		}
	}
	free(s->tab);
	s->tab = tab;
	s->nbuckets = n;
}

void stage_hash_add(struct stage *s, struct stage_file *f)
{
	size_t b;

	if (s->count >= s->nbuckets)
		stage_rehash(s);
	if (!s->nbuckets)
		return;
	b = stage_hash(f->path) % s->nbuckets;
	f->hnext = s->tab[b];
	s->tab[b] = f;
	s->count++;
}

void stage_hash_del(struct stage *s, struct stage_file *f)
{
	struct stage_file **pp;

	if (!f->path || !s->nbuckets)
		return;
	for (pp = &s->tab[stage_hash(f->path) % s->nbuckets]; *pp;
	     pp = &(*pp)->hnext) {
		if (*pp == f) {
			*pp = f->hnext;
			f->hnext = NULL;
			s->count--;
			return;
		}
	}
}

/* Options. */

static const char *stage_opt(const struct volfs_volinfo *vi, const char *key)
{
	for (size_t i = 0; i < vi->nopts; i++)
		if (strcmp(vi->opts[i].key, key) == 0)
			return vi->opts[i].value;
	return NULL;
}

static int stage_parse_uint(const char *v, uint64_t max, uint64_t *out)
{
	char *end;
	unsigned long long n;

	if (!v || !*v || *v == '-' || *v == '+')
		return -EINVAL;
	errno = 0;
	n = strtoull(v, &end, 10);
	if (errno || *end || n > max)
		return -EINVAL;
	*out = n;
	return 0;
}

/* Seconds with up to three decimals ("1", "0.5", "2.25") as milliseconds,
 * at most max_s seconds. */
static int stage_parse_secs(const char *v, uint64_t max_s, uint64_t *ms)
{
	char whole[32];
	const char *dot = v ? strchr(v, '.') : NULL;
	uint64_t s, frac = 0;
	size_t n;

	if (!v || !*v)
		return -EINVAL;
	n = dot ? (size_t)(dot - v) : strlen(v);
	if (!n || n >= sizeof(whole))
		return -EINVAL;
	memcpy(whole, v, n);
	whole[n] = '\0';
	if (stage_parse_uint(whole, max_s, &s))
		return -EINVAL;
	if (dot) {
		size_t digits = strlen(dot + 1);
		uint64_t scale = 100;

		if (!digits || digits > 3)
			return -EINVAL;
		for (const char *p = dot + 1; *p; p++, scale /= 10) {
			if (*p < '0' || *p > '9')
				return -EINVAL;
			frac += (uint64_t)(*p - '0') * scale;
		}
	}
	if (s * 1000 + frac > max_s * 1000)
		return -EINVAL;
	*ms = s * 1000 + frac;
	return 0;
}

static int stage_parse_size(const char *v, uint64_t *out)
{
	char *end;
	unsigned long long n;
	unsigned shift = 0;

	if (!v || !*v || *v == '-' || *v == '+')
		return -EINVAL;
	errno = 0;
	n = strtoull(v, &end, 10);
	if (errno || end == v)
		return -EINVAL;
	switch (*end) {
	case '\0':
		break;
	case 'k':
	case 'K':
		shift = 10;
		break;
	case 'm':
	case 'M':
		shift = 20;
		break;
	case 'g':
	case 'G':
		shift = 30;
		break;
	case 't':
	case 'T':
		shift = 40;
		break;
	default:
		return -EINVAL;
	}
	if (*end && end[1] && strcmp(end + 1, "iB") != 0 &&
	    strcmp(end + 1, "B") != 0)
		return -EINVAL;
	if (shift && n > (UINT64_MAX >> shift))
		return -EINVAL;
	*out = (uint64_t)n << shift;
	return 0;
}

struct stage_opts {
	int mode;
	unsigned ttl_ms, delay_ms;
	int64_t timeout_ms;
	uint64_t cap;
};

static int stage_opts_parse(const struct volfs_volinfo *vi,
			    struct stage_opts *o, char *err, size_t errlen)
{
	const char *v;
	uint64_t n;

	o->mode = STAGE_CACHE_FULL;
	o->ttl_ms = STAGE_TTL_DEFAULT_MS;
	o->delay_ms = 0;
	o->timeout_ms = STAGE_TIMEOUT_DEFAULT_MS;
	o->cap = 0;
	v = stage_opt(vi, "cache");
	if (v) {
		if (strcmp(v, "full") == 0)
			o->mode = STAGE_CACHE_FULL;
		else if (strcmp(v, "meta") == 0)
			o->mode = STAGE_CACHE_META;
		else if (strcmp(v, "off") == 0)
			o->mode = STAGE_CACHE_OFF;
		else
			return volfs_be_errf(err, errlen, -EINVAL,
					     "option 'cache': '%s' is not one "
					     "of full, meta, off",
					     v);
	}
	v = stage_opt(vi, "cache_ttl");
	if (v) {
		if (stage_parse_secs(v, STAGE_TTL_MAX_S, &n))
			return volfs_be_errf(err, errlen, -EINVAL,
					     "option 'cache_ttl': '%s' is not "
					     "a number of seconds from 0 to %u "
					     "(e.g. 1 or 0.5)",
					     v, STAGE_TTL_MAX_S);
		o->ttl_ms = (unsigned)n;
	}
	if (o->mode == STAGE_CACHE_OFF)
		o->ttl_ms = 0;
	v = stage_opt(vi, "upload_delay");
	if (v) {
		if (stage_parse_uint(v, STAGE_DELAY_MAX_MS, &n))
			return volfs_be_errf(
				err, errlen, -EINVAL,
				"option 'upload_delay': '%s' is "
				"not a number of milliseconds from "
				"0 to %u",
				v, STAGE_DELAY_MAX_MS);
		o->delay_ms = (unsigned)n;
	}
	v = stage_opt(vi, "timeout");
	if (v && stage_parse_secs(v, 600, &n) == 0 && n > 0)
		o->timeout_ms = (int64_t)n;
	v = stage_opt(vi, "cache_size");
	if (v) {
		if (stage_parse_size(v, &n) || n < STAGE_CAP_MIN)
			return volfs_be_errf(err, errlen, -EINVAL,
					     "option 'cache_size': '%s' is not "
					     "a size of at least 16M (a number "
					     "with K, M, G or T)",
					     v);
		o->cap = n;
	}
	return 0;
}

int volfs_stage_validate(const struct volfs_volinfo *vi, char *err,
			 size_t errlen)
{
	struct stage_opts o;

	return stage_opts_parse(vi, &o, err, errlen);
}

/* The default cap: a quarter of the free space under the cache, at most
 * 10 GiB, at least the minimum. */
static uint64_t stage_default_cap(int dirfd)
{
	struct statvfs sv;
	uint64_t cap;

	if (fstatvfs(dirfd, &sv) != 0)
		return STAGE_CAP_MAX_DEFAULT;
	cap = (uint64_t)sv.f_bavail * sv.f_frsize / 4;
	if (cap > STAGE_CAP_MAX_DEFAULT)
		cap = STAGE_CAP_MAX_DEFAULT;
	if (cap < STAGE_CAP_MIN)
		cap = STAGE_CAP_MIN;
	return cap;
}

static int stage_statfs(void *vol, struct statvfs *sv)
{
	struct stage *s = vol;

	if (!s->store->statfs) {
		memset(sv, 0, sizeof(*sv));
		sv->f_bsize = sv->f_frsize = 4096;
		sv->f_namemax = 255;
		return 0;
	}
	return s->store->statfs(s->st, sv, stage_deadline(s));
}

static void stage_close(void *vol)
{
	struct stage *s = vol;

	stage_uploaders_stop(s);
	pthread_mutex_lock(&s->lock);
	while (s->prefetches)
		pthread_cond_wait(&s->changed, &s->lock);
	for (size_t i = 0; i < s->nbuckets; i++) {
		while (s->tab[i]) {
			struct stage_file *f = s->tab[i];

			stage_hash_del(s, f);
			free(f->path);
			f->path = NULL;
			/* A dirty file's copy and journal entry stay for the
			 * next process. */
			if (f->jstate >= 0) {
				close(f->fd);
				f->fd = -1;
			}
			stage_unqueue(s, f);
			stage_lru_del(s, f);
			stage_file_free(s, f);
		}
	}
	pthread_mutex_unlock(&s->lock);
	free(s->tab);
	stage_stats_fini(s);
	s->store->close(s->st);
	close(s->datafd);
	close(s->jfd);
	close(s->lockfd);
	close(s->dirfd);
	pthread_cond_destroy(&s->changed);
	pthread_cond_destroy(&s->work);
	pthread_mutex_destroy(&s->lock);
	free(s);
}

static const struct volfs_pathops stage_ops = {
	.close = stage_close,
	.statfs = stage_statfs,
	.getattr = stage_getattr,
	.mkdir = stage_mkdir,
	.unlink = stage_unlink,
	.rmdir = stage_rmdir,
	.rename = stage_rename,
	.truncate = stage_truncate,
	.utimens = stage_utimens,
	.open_file = stage_open_file,
	.create_file = stage_create_file,
	.read = stage_read,
	.write = stage_write,
	.flush = stage_flush,
	.fsync = stage_fsync,
	.release = stage_release,
	.fd = stage_fd,
	.readdir = stage_readdir,
};

int volfs_stage_open(const struct volfs_store *store,
		     const struct volfs_volinfo *vi, void **vol, char *err,
		     size_t errlen)
{
	const struct volfs_pathops *ops = &stage_ops;
	struct stage_opts o;
	struct stage *s;
	void *top;
	int rc;

	if (store->abi_version != VOLFS_STORE_ABI ||
	    store->size < offsetof(struct volfs_store, refresh))
		return volfs_be_errf(err, errlen, -EINVAL,
				     "store '%s' was built for another store "
				     "interface (%d)",
				     store->name, store->abi_version);
	rc = stage_opts_parse(vi, &o, err, errlen);
	if (rc)
		return rc;
	s = calloc(1, sizeof(*s));
	if (!s)
		return volfs_be_errf(err, errlen, -ENOMEM, "out of memory");
	s->store = store;
	s->vi = vi;
	s->mode = o.mode;
	s->ttl_ms = o.ttl_ms;
	s->delay_ms = o.delay_ms;
	s->timeout_ms = o.timeout_ms;
	s->dirfd = s->datafd = s->jfd = s->lockfd = -1;
	pthread_mutex_init(&s->lock, NULL);
	pthread_cond_init(&s->changed, NULL);
	pthread_cond_init(&s->work, NULL);
	rc = stage_dir_init(s, err, errlen);
	if (rc)
		goto err_free;
	s->cap = o.cap ? o.cap : stage_default_cap(s->dirfd);
	s->stats->cache_cap = s->cap;
	rc = store->open(vi, &s->st, err, errlen);
	if (rc)
		goto err_dirs;
	{
		struct volfs_store_attr a;

		rc = store->stat(s->st, "", &a, stage_deadline(s));
		if (rc) {
			volfs_be_errf(err, errlen, rc,
				      "cannot read the root "
				      "of volume '%s' on the store: %s",
				      vi->name, volfs_be_strerror(rc));
			goto err_store;
		}
		s->root_st = a.st;
	}
	rc = stage_journal_replay(s);
	if (rc) {
		volfs_be_errf(err, errlen, rc,
			      "cannot read the cache journal "
			      "of volume '%s': %s",
			      vi->name, volfs_be_strerror(rc));
		goto err_store;
	}
	rc = stage_uploaders_start(s);
	if (rc) {
		volfs_be_errf(err, errlen, rc, "cannot start the uploader: %s",
			      volfs_be_strerror(rc));
		goto err_store;
	}
	top = s;
	if (s->ttl_ms) {
		rc = pathcache_wrap(ops, s, s->ttl_ms, &ops, &top);
		if (rc)
			goto err_up;
	}
	rc = pathfs_new(ops, top, vol);
	if (rc) {
		ops->close(top);
		return volfs_be_errf(err, errlen, rc, "out of memory");
	}
	return 0;

err_up:
	/* Closes the store and frees s, with the journal kept. */
	stage_close(s);
	return volfs_be_errf(err, errlen, rc, "out of memory");
err_store:
	stage_close(s);
	return rc;
err_dirs:
	stage_stats_fini(s);
	close(s->datafd);
	close(s->jfd);
	close(s->lockfd);
	close(s->dirfd);
err_free:
	pthread_cond_destroy(&s->changed);
	pthread_cond_destroy(&s->work);
	pthread_mutex_destroy(&s->lock);
	free(s);
	return rc;
}
