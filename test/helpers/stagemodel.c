/* SPDX-License-Identifier: MIT */
/*
 * stagemodel --mount DIR --model DIR [OPTIONS]: a model test of a volume
 * served by the staging layer (volfs/stage.h).
 *
 * It runs a random sequence of operations, each on two trees at once: the
 * mounted volume (--mount) and a plain directory (--model) that is the
 * model of what the volume must show.  The operations: create, open an
 * existing file (read-write, read-only, truncating), write at random
 * offsets (0 to 300 KiB, past the end too, leaving holes), read, truncate
 * through a handle and by path, fsync, close, reopen, rename (files and
 * directories, over existing files too), unlink (open files too: their
 * handles must go on working), mkdir, rmdir, and a read of a whole file
 * through a fresh descriptor.  Each call must give the same result on
 * both trees: the same count, or the same error.  Every --check-every ops
 * and at the end both trees are compared whole: names, types, sizes,
 * contents.
 *
 * With --store DIR, the directory the volume's store keeps its objects in,
 * it checks what reached the store: directories at once (namespace ops
 * reach the store before they return), a file closed and not written since
 * within SM_STORE_WAIT_MS (uploads after the last close are
 * asynchronous), and at the end, after a close of every handle and an
 * fsync of every file, everything.  Names there starting with
 * --store-ignore are the store's own (temporary files) and skipped.
 *
 * With --kill-every N, --kill-cmd and --remount-cmd, about every N ops it
 * runs the kill command (which kills the daemon with SIGKILL and unmounts
 * lazily), forgets its handles, runs the remount command and checks the
 * mount against what survives a crash: a file keeps its content at its
 * last fsync or last close (the close of its last handle; a truncate(2)
 * by path is both, as the staging layer opens, truncates, fsyncs and
 * closes the file), or shows a newer one it had since (its newest, or one
 * it had at the close of another handle); a file never closed nor
 * fsync'ed may be gone, or show a content it had; directories and names
 * are exact.  Then the model takes what the mount shows and the sequence
 * goes on.
 *
 * The sequence follows from --seed; the seed is printed first, and on a
 * mismatch the op log, what differs and the seed, on stderr.  Data written
 * is 16-byte records "#OOOOO:AAAAAAAA\n" (op number, file offset), so a
 * mismatch shows which op wrote the bytes seen.
 *
 * Exits 0 when every check passed, 1 on a mismatch, 2 on a usage or setup
 * error.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define SM_PATH 512
/* Files stay below this size, so the whole model fits in memory. */
#define SM_MAX_SIZE (3 << 20)
#define SM_WRITE_MAX (300 << 10)
#define SM_READ_MAX (400 << 10)
/* How long an upload after a close may take to show on the store. */
#define SM_STORE_WAIT_MS 20000
#define SM_HANDLES_MAX 64
/* mkdir makes directories this deep at most. */
#define SM_DEPTH 3
/* Problems of one check printed in full. */
#define SM_SHOWN 10

struct sm_buf {
	unsigned char *p;
	size_t len, alloc;
};

/* A file of the model, known by its inode there, across renames. */
struct sm_obj {
	unsigned int id;
	ino_t ino;
	/* Read-only on the model file: reads its newest content, and keeps
	 * the inode (so its number is not reused) while the object lives. */
	int dfd;
	/* Handles open on it. */
	int nopen;
	/* Closed (last handle) or fsync'ed at least once, at op synced_op,
	 * when its content was durable. */
	int synced;
	unsigned long synced_op;
	struct sm_buf durable;
	/* Hashes of other contents a crash may leave: those at closes of
	 * handles that were not its last since synced_op, and when never
	 * synced, every content it had. */
	uint64_t *seen;
	size_t nseen, aseen;
};

struct sm_handle {
	int mfd, dfd, writable;
	unsigned int id;
	struct sm_obj *obj;
};

struct sm_ent {
	char path[SM_PATH];
	/* 'd', 'f' or '?' */
	char type;
	off_t size;
	ino_t ino;
};

struct sm_tree {
	struct sm_ent *v;
	size_t n, alloc;
};

enum {
	SM_CREATE,
	SM_OPEN,
	SM_WRITE,
	SM_READ,
	SM_FTRUNCATE,
	SM_TRUNCATE,
	SM_FSYNC,
	SM_CLOSE,
	SM_REOPEN,
	SM_RENAME,
	SM_UNLINK,
	SM_MKDIR,
	SM_RMDIR,
	SM_VERIFY,
	SM_NOPS
};

/* The ops and how often each runs, relative to the others (--without sets
 * a weight to 0). */
static struct {
	const char *name;
	unsigned int weight;
} sm_ops[SM_NOPS] = {
	[SM_CREATE] = {.name = "create", .weight = 10},
	[SM_OPEN] = {.name = "open", .weight = 8},
	[SM_WRITE] = {.name = "write", .weight = 22},
	[SM_READ] = {.name = "read", .weight = 8},
	[SM_FTRUNCATE] = {.name = "ftruncate", .weight = 4},
	[SM_TRUNCATE] = {.name = "truncate", .weight = 3},
	[SM_FSYNC] = {.name = "fsync", .weight = 5},
	[SM_CLOSE] = {.name = "close", .weight = 9},
	[SM_REOPEN] = {.name = "reopen", .weight = 3},
	[SM_RENAME] = {.name = "rename", .weight = 7},
	[SM_UNLINK] = {.name = "unlink", .weight = 5},
	[SM_MKDIR] = {.name = "mkdir", .weight = 5},
	[SM_RMDIR] = {.name = "rmdir", .weight = 3},
	[SM_VERIFY] = {.name = "verify", .weight = 3},
};

static const char *sm_mount, *sm_model, *sm_store, *sm_store_ignore;
static const char *sm_kill_cmd, *sm_remount_cmd;
static int sm_mroot = -1, sm_droot = -1, sm_sroot = -1;
static int sm_verbose;
static unsigned int sm_max_open = 16;
static uint64_t sm_seed, sm_rng;
/* The op running, from 1. */
static unsigned long sm_op, sm_nops;

static struct sm_obj **sm_objv;
static size_t sm_nobj, sm_aobj;
static unsigned int sm_next_obj;
static struct sm_handle sm_hv[SM_HANDLES_MAX];
static unsigned int sm_nh, sm_next_handle;

/* The op log, and the line of the op running. */
static char **sm_logv;
static size_t sm_nlog, sm_alog;
static char sm_cur[1024];
/* What a failing check found, printed after the log. */
static char *sm_det_text;
static size_t sm_det_len;
static FILE *sm_det;

static unsigned char *sm_wbuf, *sm_rbuf[2];

static struct {
	unsigned long ops[SM_NOPS], failed_ops, checks, store_checks, kills;
	/* After the kills: files with their newest content, with an older
	 * content a crash may leave, never closed ones lost. */
	unsigned long newest, older, lost;
} sm_stats;

static void sm_print_log(void)
{
	fprintf(stderr, "stagemodel: op log (seed %llu):\n",
		(unsigned long long)sm_seed);
	for (size_t i = 0; i < sm_nlog; i++)
		fprintf(stderr, "  %s\n", sm_logv[i]);
	if (sm_cur[0])
		fprintf(stderr, "  #%lu %s   <- running\n", sm_op, sm_cur);
}

__attribute__((noreturn)) static void sm_vexit(int status, const char *fmt,
					       va_list ap)
{
	fflush(stdout);
	if (sm_op)
		sm_print_log();
	fprintf(stderr, "stagemodel: %s", status == 1 ? "MISMATCH" : "error");
	if (sm_op)
		fprintf(stderr, " at op #%lu", sm_op);
	fputs(": ", stderr);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	if (sm_det && fflush(sm_det) == 0 && sm_det_len)
		fputs(sm_det_text, stderr);
	fprintf(stderr, "stagemodel: FAILED with seed %llu (op #%lu of %lu)\n",
		(unsigned long long)sm_seed, sm_op, sm_nops);
	exit(status);
}

/* Forgets the details written so far. */
static void sm_det_reset(void)
{
	if (sm_det)
		fclose(sm_det);
	free(sm_det_text);
	sm_det_text = NULL;
	sm_det_len = 0;
	sm_det = open_memstream(&sm_det_text, &sm_det_len);
	if (!sm_det) {
		fprintf(stderr, "stagemodel: out of memory\n");
		exit(2);
	}
}

/* A mismatch between the mount and the model: exits 1. */
__attribute__((format(printf, 1, 2), noreturn)) static void
sm_fail(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	sm_vexit(1, fmt, ap);
}

/* The test itself cannot go on (setup, the model, memory): exits 2. */
__attribute__((format(printf, 1, 2), noreturn)) static void
sm_die(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	sm_vexit(2, fmt, ap);
}

/* Adds to the line of the op running. */
__attribute__((format(printf, 1, 2))) static void sm_note(const char *fmt, ...)
{
	size_t used = strlen(sm_cur);
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(sm_cur + used, sizeof(sm_cur) - used, fmt, ap);
	va_end(ap);
}

/* The op is over: its line goes to the log. */
static void sm_done(void)
{
	char *line;
	size_t len;

	if (!sm_cur[0])
		return;
	len = strlen(sm_cur) + 32;
	line = malloc(len);
	if (!line)
		sm_die("out of memory");
	snprintf(line, len, "#%lu %s", sm_op, sm_cur);
	if (sm_nlog == sm_alog) {
		size_t na = sm_alog ? 2 * sm_alog : 1024;
		char **nv = realloc(sm_logv, na * sizeof(*nv));

		if (!nv)
			sm_die("out of memory");
		sm_logv = nv;
		sm_alog = na;
	}
	sm_logv[sm_nlog++] = line;
	if (sm_verbose) {
		printf("%s\n", line);
		fflush(stdout);
	}
	sm_cur[0] = '\0';
}

/* On --timeout: an op hangs.  Prints what a failure prints, then exits. */
static void sm_alarm(int sig)
{
	static const char head[] = "stagemodel: TIMEOUT: an op hangs\n";

	(void)sig;
	if (write(STDERR_FILENO, head, sizeof(head) - 1) < 0)
		_exit(1);
	sm_print_log();
	fprintf(stderr, "stagemodel: FAILED with seed %llu (timeout)\n",
		(unsigned long long)sm_seed);
	_exit(1);
}

static void *sm_alloc(size_t len)
{
	void *p = calloc(1, len ? len : 1);

	if (!p)
		sm_die("out of memory");
	return p;
}

static void sm_reserve(struct sm_buf *b, size_t len)
{
	unsigned char *np;
	size_t na;

	if (len <= b->alloc)
		return;
	na = b->alloc ? b->alloc : 65536;
	while (na < len)
		na *= 2;
	np = realloc(b->p, na);
	if (!np)
		sm_die("out of memory");
	b->p = np;
	b->alloc = na;
}

static int sm_buf_eq(const struct sm_buf *a, const struct sm_buf *b)
{
	return a->len == b->len && (!a->len || !memcmp(a->p, b->p, a->len));
}

static uint64_t sm_hash(const struct sm_buf *b)
{
	/* FNV-1a, then the length. */
	uint64_t h = 0xcbf29ce484222325ULL;

	for (size_t i = 0; i < b->len; i++)
		h = (h ^ b->p[i]) * 0x100000001b3ULL;
	return (h ^ b->len) * 0x100000001b3ULL;
}

/* splitmix64. */
static uint64_t sm_rand(void)
{
	uint64_t z = (sm_rng += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

static size_t sm_below(size_t n)
{
	return n ? (size_t)(sm_rand() % n) : 0;
}

/* A return value, or -errno. */
static long sm_rc(long r)
{
	return r < 0 ? -errno : r;
}

static const char *sm_errname(long rc)
{
	static const struct {
		int e;
		const char *name;
	} names[] = {
		{ENOENT, "ENOENT"},
		{EEXIST, "EEXIST"},
		{ENOTDIR, "ENOTDIR"},
		{EISDIR, "EISDIR"},
		{ENOTEMPTY, "ENOTEMPTY"},
		{EINVAL, "EINVAL"},
		{EBADF, "EBADF"},
		{EIO, "EIO"},
		{ENOTCONN, "ENOTCONN"},
		{ENOSPC, "ENOSPC"},
		{EACCES, "EACCES"},
		{EPERM, "EPERM"},
		{EXDEV, "EXDEV"},
		{ESTALE, "ESTALE"},
		{EBUSY, "EBUSY"},
		{ETIMEDOUT, "ETIMEDOUT"},
		{ENAMETOOLONG, "ENAMETOOLONG"},
		{ENOSYS, "ENOSYS"},
		{EROFS, "EROFS"},
		{EFBIG, "EFBIG"},
	};

	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (-rc == names[i].e)
			return names[i].name;
	return "errno";
}

/* rc as the log shows it: the count, or the error. */
static const char *sm_rcstr(long rc, char *buf, size_t len)
{
	if (rc >= 0)
		snprintf(buf, len, "%ld", rc);
	else
		snprintf(buf, len, "%s (%s)", sm_errname(rc),
			 strerror((int)-rc));
	return buf;
}

/* The mount and the model must have given the same result. */
static void sm_same(long mr, long dr)
{
	char a[96], b[96];

	sm_note(" -> %s", sm_rcstr(mr, a, sizeof(a)));
	/* Both are right for a directory that is not empty. */
	if (mr == dr || ((mr == -ENOTEMPTY || mr == -EEXIST) &&
			 (dr == -ENOTEMPTY || dr == -EEXIST))) {
		sm_stats.failed_ops += mr < 0;
		return;
	}
	sm_fail("the mount gave %s, the model %s", a,
		sm_rcstr(dr, b, sizeof(b)));
}

/* Writes up to 48 bytes of b around at into the details, escaped. */
static void sm_snippet(const char *label, const struct sm_buf *b, size_t at)
{
	size_t from = at & ~(size_t)15, to = from + 48;

	fprintf(sm_det, "    %-8s @%zu: '", label, from);
	for (size_t i = from; i < to && i < b->len; i++) {
		unsigned char c = b->p[i];

		if (c == '\n')
			fputs("\\n", sm_det);
		else if (c == 0)
			fputc('.', sm_det);
		else if (c >= 32 && c < 127 && c != '\'' && c != '\\')
			fputc(c, sm_det);
		else
			fprintf(sm_det, "\\x%02x", c);
	}
	fputs(from >= b->len ? "' (past the end)\n" : "'\n", sm_det);
}

/* Writes into the details how b (what the mount shows) differs from
 * want. */
static void sm_explain(const char *what, const struct sm_buf *b,
		       const struct sm_buf *want)
{
	size_t n = b->len < want->len ? b->len : want->len, at = 0;

	while (at < n && b->p[at] == want->p[at])
		at++;
	if (at == n && b->len == want->len) {
		fprintf(sm_det, "  same as %s (%zu bytes)\n", what, b->len);
		return;
	}
	fprintf(sm_det,
		"  differs from %s: %zu bytes seen, %zu expected, first difference at byte %zu\n",
		what, b->len, want->len, at);
	sm_snippet("seen", b, at);
	sm_snippet("expected", want, at);
}

static int sm_slurp(int fd, struct sm_buf *b)
{
	b->len = 0;
	for (;;) {
		ssize_t n;

		sm_reserve(b, b->len + 262144);
		n = pread(fd, b->p + b->len, 262144, (off_t)b->len);
		if (n < 0)
			return -errno;
		if (n == 0)
			return 0;
		b->len += (size_t)n;
	}
}

/* Reads path below root whole through a descriptor of its own. */
static int sm_slurp_at(int root, const char *path, struct sm_buf *b)
{
	int fd = openat(root, path, O_RDONLY | O_CLOEXEC), rc;

	if (fd < 0)
		return -errno;
	rc = sm_slurp(fd, b);
	if (close(fd) != 0 && !rc)
		rc = -errno;
	return rc;
}

static void sm_join(char *out, const char *dir, const char *name)
{
	if (snprintf(out, SM_PATH, "%s%s%s", dir, *dir ? "/" : "", name) >=
	    SM_PATH)
		sm_die("path too long below '%s'", dir);
}

static int sm_depth(const char *path)
{
	int d = *path ? 1 : 0;

	for (; *path; path++)
		d += *path == '/';
	return d;
}

static int sm_ent_cmp(const void *a, const void *b)
{
	return strcmp(((const struct sm_ent *)a)->path,
		      ((const struct sm_ent *)b)->path);
}

static void sm_tree_free(struct sm_tree *t)
{
	free(t->v);
	t->v = NULL;
	t->n = t->alloc = 0;
}

/*
 * Adds the entries below directory rel of root to t, depth first.  With
 * store, an entry gone between readdir and stat is skipped (the store
 * directory changes under the walk while uploads run), and so are the
 * names starting with --store-ignore (the store's temporary files).
 */
static int sm_walk_dir(int root, const char *rel, struct sm_tree *t, int store)
{
	int fd = openat(root, *rel ? rel : ".",
			O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	size_t first = t->n, last;
	struct dirent *de;
	int rc = 0;
	DIR *d;

	if (fd < 0)
		return store && errno == ENOENT ? 0 : -errno;
	d = fdopendir(fd);
	if (!d) {
		rc = -errno;
		close(fd);
		return rc;
	}
	for (;;) {
		struct sm_ent *e;
		struct stat st;

		errno = 0;
		de = readdir(d);
		if (!de) {
			rc = errno ? -errno : 0;
			break;
		}
		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		if (store && sm_store_ignore &&
		    !strncmp(de->d_name, sm_store_ignore,
			     strlen(sm_store_ignore)))
			continue;
		if (t->n == t->alloc) {
			size_t na = t->alloc ? 2 * t->alloc : 64;
			struct sm_ent *nv = realloc(t->v, na * sizeof(*nv));

			if (!nv)
				sm_die("out of memory");
			t->v = nv;
			t->alloc = na;
		}
		e = &t->v[t->n];
		if (snprintf(e->path, SM_PATH, "%s%s%s", rel, *rel ? "/" : "",
			     de->d_name) >= SM_PATH) {
			rc = -ENAMETOOLONG;
			break;
		}
		if (fstatat(root, e->path, &st, AT_SYMLINK_NOFOLLOW) != 0) {
			if (store && errno == ENOENT)
				continue;
			rc = -errno;
			break;
		}
		e->type = '?';
		if (S_ISDIR(st.st_mode))
			e->type = 'd';
		else if (S_ISREG(st.st_mode))
			e->type = 'f';
		e->size = st.st_size;
		e->ino = st.st_ino;
		t->n++;
	}
	closedir(d);
	last = t->n;
	for (size_t i = first; !rc && i < last; i++) {
		char sub[SM_PATH];

		if (t->v[i].type != 'd')
			continue;
		memcpy(sub, t->v[i].path, SM_PATH);
		rc = sm_walk_dir(root, sub, t, store);
	}
	return rc;
}

/* Every entry below root, sorted by path. */
static int sm_walk(int root, struct sm_tree *t, int store)
{
	int rc;

	t->n = 0;
	rc = sm_walk_dir(root, "", t, store);
	if (!rc && t->n)
		qsort(t->v, t->n, sizeof(*t->v), sm_ent_cmp);
	return rc;
}

static void sm_model_tree(struct sm_tree *t)
{
	int rc = sm_walk(sm_droot, t, 0);

	if (rc)
		sm_die("cannot walk the model %s: %s", sm_model, strerror(-rc));
}

static const struct sm_ent *sm_find(const struct sm_tree *t, const char *path)
{
	struct sm_ent key;

	if (!t->n)
		return NULL;
	snprintf(key.path, SM_PATH, "%s", path);
	return bsearch(&key, t->v, t->n, sizeof(*t->v), sm_ent_cmp);
}

/* Where a walk of two sorted trees stands: < 0 when only a has entry i,
 * > 0 when only b has entry j, 0 when both have the path. */
static int sm_merge_cmp(const struct sm_tree *a, size_t i,
			const struct sm_tree *b, size_t j)
{
	if (i == a->n)
		return 1;
	if (j == b->n)
		return -1;
	return strcmp(a->v[i].path, b->v[j].path);
}

/* A random entry of type in t ("" for the root when type is 'd' and
 * root); 0, or -1 when there is none. */
static int sm_pick(const struct sm_tree *t, char type, int root, int max_depth,
		   char *out)
{
	size_t n = root ? 1 : 0, k;

	for (size_t i = 0; i < t->n; i++)
		if (t->v[i].type == type && sm_depth(t->v[i].path) <= max_depth)
			n++;
	if (!n)
		return -1;
	k = sm_below(n);
	if (root && k-- == 0) {
		out[0] = '\0';
		return 0;
	}
	for (size_t i = 0; i < t->n; i++) {
		if (t->v[i].type != type || sm_depth(t->v[i].path) > max_depth)
			continue;
		if (k-- == 0) {
			memcpy(out, t->v[i].path, SM_PATH);
			return 0;
		}
	}
	return -1;
}

static const char *sm_fname(void)
{
	static const char *const names[] = {"f0", "f1", "f2", "f3", "f4", "f5"};

	return names[sm_below(6)];
}

static const char *sm_dname(void)
{
	static const char *const names[] = {"d0", "d1", "d2", "d3"};

	return names[sm_below(4)];
}

/* A path in a random directory, which may or may not exist. */
static void sm_new_path(const struct sm_tree *t, int dir, char *out)
{
	char parent[SM_PATH];

	sm_pick(t, 'd', 1, 64, parent);
	sm_join(out, parent, dir ? sm_dname() : sm_fname());
}

static struct sm_obj *sm_obj_find(ino_t ino)
{
	for (size_t i = 0; i < sm_nobj; i++)
		if (sm_objv[i]->ino == ino)
			return sm_objv[i];
	return NULL;
}

static void sm_obj_newest(struct sm_obj *o, struct sm_buf *b)
{
	int rc = sm_slurp(o->dfd, b);

	if (rc)
		sm_die("cannot read F%u in the model: %s", o->id,
		       strerror(-rc));
}

static void sm_obj_seen(struct sm_obj *o, uint64_t h)
{
	for (size_t i = 0; i < o->nseen; i++)
		if (o->seen[i] == h)
			return;
	if (o->nseen == o->aseen) {
		size_t na = o->aseen ? 2 * o->aseen : 8;
		uint64_t *nv = realloc(o->seen, na * sizeof(*nv));

		if (!nv)
			sm_die("out of memory");
		o->seen = nv;
		o->aseen = na;
	}
	o->seen[o->nseen++] = h;
}

static int sm_obj_seen_has(const struct sm_obj *o, uint64_t h)
{
	for (size_t i = 0; i < o->nseen; i++)
		if (o->seen[i] == h)
			return 1;
	return 0;
}

/* The file at path in the model is new: a new object, never synced. */
static struct sm_obj *sm_obj_new(const char *path)
{
	struct sm_obj *o = sm_alloc(sizeof(*o));
	struct sm_buf empty = {0};
	struct stat st;

	o->id = ++sm_next_obj;
	o->dfd = openat(sm_droot, path, O_RDONLY | O_CLOEXEC);
	if (o->dfd < 0 || fstat(o->dfd, &st) != 0)
		sm_die("cannot open %s in the model: %s", path,
		       strerror(errno));
	o->ino = st.st_ino;
	if (sm_obj_find(o->ino))
		sm_die("inode %lu of %s is already known",
		       (unsigned long)o->ino, path);
	sm_obj_seen(o, sm_hash(&empty));
	if (sm_nobj == sm_aobj) {
		size_t na = sm_aobj ? 2 * sm_aobj : 64;
		struct sm_obj **nv = realloc(sm_objv, na * sizeof(*nv));

		if (!nv)
			sm_die("out of memory");
		sm_objv = nv;
		sm_aobj = na;
	}
	sm_objv[sm_nobj++] = o;
	return o;
}

/* The object of the file at path in the model. */
static struct sm_obj *sm_obj_at(const char *path)
{
	struct sm_obj *o;
	struct stat st;

	if (fstatat(sm_droot, path, &st, AT_SYMLINK_NOFOLLOW) != 0)
		sm_die("cannot stat %s in the model: %s", path,
		       strerror(errno));
	o = sm_obj_find(st.st_ino);
	if (!o)
		sm_die("no object for %s in the model", path);
	return o;
}

static int sm_obj_linked(struct sm_obj *o)
{
	struct stat st;

	if (fstat(o->dfd, &st) != 0)
		sm_die("cannot stat F%u in the model: %s", o->id,
		       strerror(errno));
	return st.st_nlink > 0;
}

/* Its newest content is durable: fsync'ed, or closed by its last handle. */
static void sm_obj_durable(struct sm_obj *o)
{
	if (!sm_obj_linked(o))
		return;
	sm_obj_newest(o, &o->durable);
	o->synced = 1;
	o->synced_op = sm_op;
	o->nseen = 0;
}

/* Its content changed (a write, a truncation). */
static void sm_obj_changed(struct sm_obj *o)
{
	struct sm_buf b = {0};

	if (o->synced)
		return;
	sm_obj_newest(o, &b);
	sm_obj_seen(o, sm_hash(&b));
	free(b.p);
}

/* A descriptor on it was closed (its handles are counted in nopen). */
static void sm_obj_closed(struct sm_obj *o)
{
	struct sm_buf b = {0};

	if (!sm_obj_linked(o))
		return;
	if (o->nopen == 0) {
		sm_obj_durable(o);
		return;
	}
	sm_obj_newest(o, &b);
	sm_obj_seen(o, sm_hash(&b));
	free(b.p);
}

/* Forgets the objects with no name and no handle left. */
static void sm_reap(void)
{
	for (size_t i = 0; i < sm_nobj;) {
		struct sm_obj *o = sm_objv[i];

		if (o->nopen || sm_obj_linked(o)) {
			i++;
			continue;
		}
		close(o->dfd);
		free(o->durable.p);
		free(o->seen);
		free(o);
		sm_objv[i] = sm_objv[--sm_nobj];
	}
}

/* Whether o is closed and unchanged since: the store must have it. */
static int sm_obj_clean(struct sm_obj *o, struct sm_buf *newest)
{
	sm_obj_newest(o, newest);
	return o->nopen == 0 && o->synced && sm_buf_eq(newest, &o->durable);
}

static void sm_handle_add(int mfd, int dfd, int writable, struct sm_obj *o)
{
	struct sm_handle *h = &sm_hv[sm_nh++];

	h->mfd = mfd;
	h->dfd = dfd;
	h->writable = writable;
	h->obj = o;
	h->id = ++sm_next_handle;
	o->nopen++;
	sm_note(" h%u F%u", h->id, o->id);
}

static void sm_handle_del(unsigned int i)
{
	sm_hv[i] = sm_hv[--sm_nh];
}

/* A random handle (a writable one when writable), or -1. */
static int sm_pick_handle(int writable)
{
	unsigned int n = 0, k;

	for (unsigned int i = 0; i < sm_nh; i++)
		n += !writable || sm_hv[i].writable;
	if (!n)
		return -1;
	k = (unsigned int)sm_below(n);
	for (unsigned int i = 0; i < sm_nh; i++)
		if ((!writable || sm_hv[i].writable) && k-- == 0)
			return (int)i;
	return -1;
}

/* Both descriptors of h must show the same size. */
static void sm_same_size(struct sm_handle *h)
{
	struct stat ms, ds;

	if (fstat(h->mfd, &ms) != 0)
		sm_fail("fstat of h%u on the mount: %s", h->id,
			strerror(errno));
	if (fstat(h->dfd, &ds) != 0)
		sm_die("fstat of h%u in the model: %s", h->id, strerror(errno));
	if (ms.st_size != ds.st_size)
		sm_fail("h%u (F%u) has %lld bytes on the mount, %lld in the model",
			h->id, h->obj->id, (long long)ms.st_size,
			(long long)ds.st_size);
}

/* Data op sm_op writes at off: 16-byte records naming the op and the
 * offset. */
static void sm_fill(unsigned char *p, off_t off, size_t len)
{
	char rec[17];
	size_t i = 0;

	while (i < len) {
		off_t a = off + (off_t)i, base = a & ~(off_t)15;
		size_t k = (size_t)(a - base), n = 16 - k;

		snprintf(rec, sizeof(rec), "#%05lu:%08llx\n", sm_op % 100000,
			 (unsigned long long)base & 0xffffffffULL);
		if (n > len - i)
			n = len - i;
		memcpy(p + i, rec + k, n);
		i += n;
	}
}

static size_t sm_pick_len(size_t max)
{
	size_t r = sm_below(10);

	if (r == 0)
		return 0;
	if (r < 5)
		return 1 + sm_below(4096);
	if (r < 8)
		return 1 + sm_below(65536);
	return 65536 + sm_below(max - 65536 + 1);
}

static off_t sm_pick_off(off_t size, size_t len)
{
	size_t r = sm_below(10);
	off_t off;

	if (r < 2)
		off = 0;
	else if (r < 4)
		off = size;
	else if (r < 5)
		off = size + 1 + (off_t)sm_below(256 << 10);
	else
		off = size ? (off_t)sm_below((size_t)size + 1) : 0;
	if (r >= 5 && sm_below(3) == 0)
		off &= ~(off_t)4095;
	if (off + (off_t)len > SM_MAX_SIZE)
		off = (off_t)sm_below(SM_MAX_SIZE - len + 1);
	return off;
}

static off_t sm_pick_size(off_t size)
{
	size_t r = sm_below(10);
	off_t n;

	if (r == 0)
		n = 0;
	else if (r < 5)
		n = (off_t)sm_below((size_t)size + 1);
	else if (r < 8)
		n = size + (off_t)sm_below(256 << 10);
	else if (r < 9)
		n = size;
	else
		n = (off_t)sm_below((size_t)size + 65536) & ~(off_t)4095;
	return n > SM_MAX_SIZE ? SM_MAX_SIZE : n;
}

static void sm_do_create(const struct sm_tree *t)
{
	int flags = O_RDWR | O_CREAT | O_CLOEXEC, existed, mfd, dfd;
	char dir[SM_PATH], path[SM_PATH];
	struct sm_obj *o;
	struct stat st;

	sm_pick(t, 'd', 1, SM_DEPTH - 1, dir);
	sm_join(path, dir, sm_fname());
	if (sm_below(5) == 0)
		flags |= O_EXCL;
	if (sm_below(6) == 0)
		flags |= O_TRUNC;
	existed = fstatat(sm_droot, path, &st, AT_SYMLINK_NOFOLLOW) == 0;
	sm_note("create %s%s%s", path, flags & O_EXCL ? " excl" : "",
		flags & O_TRUNC ? " trunc" : "");
	mfd = openat(sm_mroot, path, flags, 0644);
	{
		long mr = mfd < 0 ? -errno : 0;

		dfd = openat(sm_droot, path, flags, 0644);
		sm_same(mr, dfd < 0 ? -errno : 0);
	}
	if (dfd < 0)
		return;
	o = existed ? sm_obj_at(path) : sm_obj_new(path);
	sm_note("%s", existed ? " (existed)" : " (new)");
	sm_handle_add(mfd, dfd, 1, o);
	if (existed && (flags & O_TRUNC))
		sm_obj_changed(o);
}

static void sm_do_open(const struct sm_tree *t)
{
	int flags = O_RDWR | O_CLOEXEC, mfd, dfd, writable = 1;
	char path[SM_PATH];
	size_t r = sm_below(20);
	struct sm_obj *o;
	struct stat st;

	if (sm_below(20) == 0 || sm_pick(t, 'f', 0, 64, path) != 0)
		sm_new_path(t, 0, path);
	if (r < 5) {
		flags = O_RDONLY | O_CLOEXEC;
		writable = 0;
	} else if (r < 8) {
		flags |= O_TRUNC;
	}
	sm_note("open %s %s%s", path, writable ? "rw" : "ro",
		flags & O_TRUNC ? " trunc" : "");
	mfd = openat(sm_mroot, path, flags);
	{
		long mr = mfd < 0 ? -errno : 0;

		dfd = openat(sm_droot, path, flags);
		sm_same(mr, dfd < 0 ? -errno : 0);
	}
	if (dfd < 0)
		return;
	if (fstat(dfd, &st) != 0)
		sm_die("fstat in the model: %s", strerror(errno));
	if (!S_ISREG(st.st_mode)) {
		/* A directory, opened read-only. */
		close(mfd);
		close(dfd);
		return;
	}
	o = sm_obj_at(path);
	sm_handle_add(mfd, dfd, writable, o);
	if (flags & O_TRUNC)
		sm_obj_changed(o);
}

static void sm_do_write(struct sm_handle *h)
{
	struct stat st;
	size_t len;
	off_t off;
	long mr;

	if (fstat(h->dfd, &st) != 0)
		sm_die("fstat in the model: %s", strerror(errno));
	len = sm_pick_len(SM_WRITE_MAX);
	off = sm_pick_off(st.st_size, len);
	sm_fill(sm_wbuf, off, len);
	sm_note("write h%u F%u off=%lld len=%zu (size %lld)", h->id, h->obj->id,
		(long long)off, len, (long long)st.st_size);
	mr = sm_rc(pwrite(h->mfd, sm_wbuf, len, off));
	sm_same(mr, sm_rc(pwrite(h->dfd, sm_wbuf, len, off)));
	sm_same_size(h);
	sm_obj_changed(h->obj);
}

static void sm_do_read(struct sm_handle *h)
{
	struct sm_buf mb, db;
	struct stat st;
	size_t len;
	off_t off;
	long mr, dr;

	if (fstat(h->dfd, &st) != 0)
		sm_die("fstat in the model: %s", strerror(errno));
	len = 1 + sm_below(SM_READ_MAX);
	off = (off_t)sm_below((size_t)st.st_size + 8192);
	sm_note("read h%u F%u off=%lld len=%zu (size %lld)", h->id, h->obj->id,
		(long long)off, len, (long long)st.st_size);
	mr = sm_rc(pread(h->mfd, sm_rbuf[0], len, off));
	dr = sm_rc(pread(h->dfd, sm_rbuf[1], len, off));
	sm_same(mr, dr);
	if (mr <= 0 || !memcmp(sm_rbuf[0], sm_rbuf[1], (size_t)mr))
		return;
	mb = (struct sm_buf){.p = sm_rbuf[0], .len = (size_t)mr};
	db = (struct sm_buf){.p = sm_rbuf[1], .len = (size_t)dr};
	fprintf(sm_det, "  (offsets from %lld)\n", (long long)off);
	sm_explain("the model", &mb, &db);
	sm_fail("h%u (F%u) reads other bytes on the mount than in the model",
		h->id, h->obj->id);
}

static void sm_do_ftruncate(struct sm_handle *h)
{
	struct stat st;
	off_t size;
	long mr;

	if (fstat(h->dfd, &st) != 0)
		sm_die("fstat in the model: %s", strerror(errno));
	size = sm_pick_size(st.st_size);
	sm_note("ftruncate h%u F%u %lld (size %lld)", h->id, h->obj->id,
		(long long)size, (long long)st.st_size);
	mr = sm_rc(ftruncate(h->mfd, size));
	sm_same(mr, sm_rc(ftruncate(h->dfd, size)));
	sm_same_size(h);
	sm_obj_changed(h->obj);
}

static void sm_do_truncate(const struct sm_tree *t)
{
	char path[SM_PATH], mp[2 * SM_PATH], dp[2 * SM_PATH];
	const struct sm_ent *e;
	off_t size = 0;
	long mr;

	if (sm_below(20) == 0 || sm_pick(t, 'f', 0, 64, path) != 0)
		sm_new_path(t, 0, path);
	e = sm_find(t, path);
	if (e && e->type == 'f')
		size = sm_pick_size(e->size);
	snprintf(mp, sizeof(mp), "%s/%s", sm_mount, path);
	snprintf(dp, sizeof(dp), "%s/%s", sm_model, path);
	sm_note("truncate %s %lld", path, (long long)size);
	mr = sm_rc(truncate(mp, size));
	sm_same(mr, sm_rc(truncate(dp, size)));
	if (mr == 0) {
		/* The staging layer makes it an open, ftruncate, fsync and
		 * close: durable when it returns. */
		sm_obj_durable(sm_obj_at(path));
	}
}

static void sm_do_fsync(struct sm_handle *h)
{
	sm_note("fsync h%u F%u", h->id, h->obj->id);
	sm_same(sm_rc(fsync(h->mfd)), 0);
	sm_obj_durable(h->obj);
}

static void sm_do_close(unsigned int i)
{
	struct sm_handle h = sm_hv[i];
	long mr;

	sm_note("close h%u F%u", h.id, h.obj->id);
	mr = sm_rc(close(h.mfd));
	sm_same(mr, sm_rc(close(h.dfd)));
	sm_handle_del(i);
	h.obj->nopen--;
	sm_obj_closed(h.obj);
	sm_reap();
}

/* Closes handle i and opens its file again by its path now. */
static void sm_do_reopen(unsigned int i)
{
	struct sm_handle h = sm_hv[i];
	struct sm_tree t = {0};
	const struct sm_ent *e = NULL;
	int flags = h.writable ? O_RDWR : O_RDONLY, mfd, dfd;
	ino_t ino = h.obj->ino;
	int linked = sm_obj_linked(h.obj);

	sm_do_close(i);
	if (!linked)
		return;
	sm_model_tree(&t);
	for (size_t k = 0; k < t.n && !e; k++)
		if (t.v[k].type == 'f' && t.v[k].ino == ino)
			e = &t.v[k];
	if (!e)
		sm_die("F%u is linked but not found in the model", h.obj->id);
	sm_note("; reopen %s %s", e->path, h.writable ? "rw" : "ro");
	mfd = openat(sm_mroot, e->path, flags | O_CLOEXEC);
	{
		long mr = mfd < 0 ? -errno : 0;

		dfd = openat(sm_droot, e->path, flags | O_CLOEXEC);
		sm_same(mr, dfd < 0 ? -errno : 0);
	}
	if (dfd >= 0)
		sm_handle_add(mfd, dfd, h.writable, sm_obj_at(e->path));
	sm_tree_free(&t);
}

static void sm_do_rename(const struct sm_tree *t)
{
	char from[SM_PATH], to[SM_PATH];
	size_t r = sm_below(20);
	int dir = 0;
	long mr;

	if (r < 13 && sm_pick(t, 'f', 0, 64, from) == 0)
		dir = 0;
	else if (r < 18 && sm_pick(t, 'd', 0, 64, from) == 0)
		dir = 1;
	else
		sm_new_path(t, sm_below(2), from);
	r = sm_below(20);
	if (r < 7 && sm_pick(t, 'f', 0, 64, to) == 0)
		;
	else if (r < 10 && sm_pick(t, 'd', 0, 64, to) == 0)
		;
	else
		sm_new_path(t, sm_below(5) == 0 ? !dir : dir, to);
	sm_note("rename %s %s", from, to);
	mr = sm_rc(renameat(sm_mroot, from, sm_mroot, to));
	sm_same(mr, sm_rc(renameat(sm_droot, from, sm_droot, to)));
	sm_reap();
}

static void sm_do_unlink(const struct sm_tree *t)
{
	char path[SM_PATH];
	size_t r = sm_below(20);
	long mr;

	path[0] = '\0';
	if (r < 6 && sm_nh) {
		/* A file with handles open, by its path in the model. */
		struct sm_obj *o = sm_hv[sm_below(sm_nh)].obj;

		for (size_t k = 0; k < t->n; k++)
			if (t->v[k].type == 'f' && t->v[k].ino == o->ino)
				memcpy(path, t->v[k].path, SM_PATH);
	}
	if (!path[0] && (r == 19 || sm_pick(t, 'f', 0, 64, path) != 0))
		sm_new_path(t, 0, path);
	sm_note("unlink %s", path);
	mr = sm_rc(unlinkat(sm_mroot, path, 0));
	sm_same(mr, sm_rc(unlinkat(sm_droot, path, 0)));
	sm_reap();
}

static void sm_do_mkdir(const struct sm_tree *t)
{
	char dir[SM_PATH], path[SM_PATH];
	long mr;

	sm_pick(t, 'd', 1, SM_DEPTH - 1, dir);
	sm_join(path, dir, sm_dname());
	sm_note("mkdir %s", path);
	mr = sm_rc(mkdirat(sm_mroot, path, 0755));
	sm_same(mr, sm_rc(mkdirat(sm_droot, path, 0755)));
}

static void sm_do_rmdir(const struct sm_tree *t)
{
	char path[SM_PATH];
	long mr;

	if (sm_pick(t, 'd', 0, 64, path) != 0)
		sm_new_path(t, 1, path);
	sm_note("rmdir %s", path);
	mr = sm_rc(unlinkat(sm_mroot, path, AT_REMOVEDIR));
	sm_same(mr, sm_rc(unlinkat(sm_droot, path, AT_REMOVEDIR)));
}

/*
 * Reads the file at path whole through a descriptor of its own on the
 * mount and compares it with the model; closing that descriptor counts as
 * a close of the file.
 */
static void sm_verify_file(const char *path)
{
	struct sm_buf mb = {0}, db = {0};
	struct sm_obj *o = sm_obj_at(path);
	int rc = sm_slurp_at(sm_mroot, path, &mb);

	if (rc)
		sm_fail("cannot read %s (F%u) on the mount: %s", path, o->id,
			strerror(-rc));
	sm_obj_newest(o, &db);
	if (!sm_buf_eq(&mb, &db)) {
		sm_explain("the model", &mb, &db);
		sm_fail("%s (F%u) differs between the mount and the model",
			path, o->id);
	}
	sm_obj_closed(o);
	free(mb.p);
	free(db.p);
}

static void sm_do_verify(const struct sm_tree *t)
{
	char path[SM_PATH];

	if (sm_pick(t, 'f', 0, 64, path) != 0)
		return;
	sm_note("verify %s", path);
	sm_verify_file(path);
	sm_note(" -> ok");
}

static void sm_step(void)
{
	struct sm_tree t = {0};
	unsigned int total = 0, k, op = 0;
	int hi;

	for (unsigned int i = 0; i < SM_NOPS; i++)
		total += sm_ops[i].weight;
	k = (unsigned int)sm_below(total);
	while (k >= sm_ops[op].weight)
		k -= sm_ops[op++].weight;

	/* Ops on a handle need one; opens need room for one. */
	switch (op) {
	case SM_WRITE:
	case SM_FTRUNCATE:
		hi = sm_pick_handle(1);
		break;
	case SM_READ:
	case SM_FSYNC:
	case SM_CLOSE:
	case SM_REOPEN:
		hi = sm_pick_handle(0);
		break;
	default:
		hi = 0;
	}
	if (hi < 0)
		op = sm_below(3) ? SM_CREATE : SM_OPEN;
	if ((op == SM_CREATE || op == SM_OPEN) && sm_nh >= sm_max_open) {
		op = SM_CLOSE;
		hi = sm_pick_handle(0);
	}
	sm_stats.ops[op]++;
	sm_model_tree(&t);
	switch (op) {
	case SM_CREATE:
		sm_do_create(&t);
		break;
	case SM_OPEN:
		sm_do_open(&t);
		break;
	case SM_WRITE:
		sm_do_write(&sm_hv[hi]);
		break;
	case SM_READ:
		sm_do_read(&sm_hv[hi]);
		break;
	case SM_FTRUNCATE:
		sm_do_ftruncate(&sm_hv[hi]);
		break;
	case SM_TRUNCATE:
		sm_do_truncate(&t);
		break;
	case SM_FSYNC:
		sm_do_fsync(&sm_hv[hi]);
		break;
	case SM_CLOSE:
		sm_do_close((unsigned int)hi);
		break;
	case SM_REOPEN:
		sm_do_reopen((unsigned int)hi);
		break;
	case SM_RENAME:
		sm_do_rename(&t);
		break;
	case SM_UNLINK:
		sm_do_unlink(&t);
		break;
	case SM_MKDIR:
		sm_do_mkdir(&t);
		break;
	case SM_RMDIR:
		sm_do_rmdir(&t);
		break;
	case SM_VERIFY:
		sm_do_verify(&t);
		break;
	}
	sm_tree_free(&t);
}

/*
 * Compares the whole trees, names, types, sizes and contents, the mount's
 * files read through descriptors of their own (closes of those files).
 */
static void sm_compare_trees(const char *when)
{
	struct sm_tree mt = {0}, dt = {0};
	size_t i = 0, j = 0, bad = 0;
	int rc;

	sm_model_tree(&dt);
	rc = sm_walk(sm_mroot, &mt, 0);
	if (rc)
		sm_fail("%s: cannot walk the mount %s: %s", when, sm_mount,
			strerror(-rc));
	while (i < mt.n || j < dt.n) {
		int c = sm_merge_cmp(&mt, i, &dt, j);

		if (c < 0) {
			if (bad++ < SM_SHOWN)
				fprintf(sm_det,
					"  only on the mount: %s (%c)\n",
					mt.v[i].path, mt.v[i].type);
			i++;
			continue;
		}
		if (c > 0) {
			if (bad++ < SM_SHOWN)
				fprintf(sm_det,
					"  only in the model: %s (%c)\n",
					dt.v[j].path, dt.v[j].type);
			j++;
			continue;
		}
		if (mt.v[i].type != dt.v[j].type) {
			if (bad++ < SM_SHOWN)
				fprintf(sm_det,
					"  %s: type '%c' on the mount, '%c' in the model\n",
					mt.v[i].path, mt.v[i].type,
					dt.v[j].type);
		} else if (mt.v[i].type == 'f' &&
			   mt.v[i].size != dt.v[j].size) {
			if (bad++ < SM_SHOWN)
				fprintf(sm_det,
					"  %s: %lld bytes on the mount, %lld in the model\n",
					mt.v[i].path, (long long)mt.v[i].size,
					(long long)dt.v[j].size);
		}
		i++;
		j++;
	}
	if (bad)
		sm_fail("%s: the mount and the model differ (%zu entries)",
			when, bad);
	for (size_t k = 0; k < dt.n; k++)
		if (dt.v[k].type == 'f')
			sm_verify_file(dt.v[k].path);
	sm_tree_free(&mt);
	sm_tree_free(&dt);
}

/*
 * Checks the store directory against the model.  Directories must match
 * at once.  A file closed and unchanged since (every file when strict)
 * must be there with its content, within wait_ms; no other name may stay
 * longer than that.  A file open or changed since its close may hold any
 * content there.
 */
static void sm_store_check(const char *when, int wait_ms, int strict)
{
	struct timespec t0, now;
	struct sm_buf newest = {0}, sb = {0};
	long waited = 0;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	sm_stats.store_checks++;
	for (;;) {
		struct sm_tree st = {0}, dt = {0};
		size_t i = 0, j = 0, bad = 0, hard = 0;
		int rc;

		/* Only the last pass's problems are shown. */
		sm_det_reset();
		rc = sm_walk(sm_sroot, &st, 1);
		if (rc)
			sm_fail("%s: cannot walk the store %s: %s", when,
				sm_store, strerror(-rc));
		sm_model_tree(&dt);
		while (i < st.n || j < dt.n) {
			int c = sm_merge_cmp(&st, i, &dt, j);
			const struct sm_ent *s = c <= 0 ? &st.v[i] : NULL;
			const struct sm_ent *d = c >= 0 ? &dt.v[j] : NULL;
			struct sm_obj *o;

			i += c <= 0;
			j += c >= 0;
			if (!d) {
				if (bad++ < SM_SHOWN)
					fprintf(sm_det,
						"  %s is on the store, not in the model\n",
						s->path);
				continue;
			}
			if (d->type == 'd') {
				if (s && s->type == 'd')
					continue;
				hard++;
				if (bad++ < SM_SHOWN)
					fprintf(sm_det,
						"  directory %s is %s on the store\n",
						d->path,
						s ? "not a directory"
						  : "missing");
				continue;
			}
			if (s && s->type != 'f') {
				hard++;
				if (bad++ < SM_SHOWN)
					fprintf(sm_det,
						"  file %s is a directory on the store\n",
						d->path);
				continue;
			}
			o = sm_obj_at(d->path);
			if (!sm_obj_clean(o, &newest) && !strict)
				continue;
			if (!s) {
				if (bad++ < SM_SHOWN)
					fprintf(sm_det,
						"  %s (F%u, %zu bytes, durable since op #%lu) is missing from the store\n",
						d->path, o->id, newest.len,
						o->synced_op);
				continue;
			}
			rc = sm_slurp_at(sm_sroot, s->path, &sb);
			if (rc == -ENOENT)
				continue;
			if (rc)
				sm_fail("%s: cannot read %s on the store: %s",
					when, s->path, strerror(-rc));
			if (sm_buf_eq(&sb, &newest))
				continue;
			if (bad++ < SM_SHOWN) {
				fprintf(sm_det,
					"  %s (F%u, durable since op #%lu) on the store:\n",
					d->path, o->id, o->synced_op);
				sm_explain("its content", &sb, &newest);
			}
		}
		sm_tree_free(&st);
		sm_tree_free(&dt);
		clock_gettime(CLOCK_MONOTONIC, &now);
		waited = (now.tv_sec - t0.tv_sec) * 1000 +
			 (now.tv_nsec - t0.tv_nsec) / 1000000;
		if (!bad)
			break;
		if (hard || waited >= wait_ms)
			sm_fail("%s: the store %s differs from the model (%zu problems, after %ld ms)",
				when, sm_store, bad, waited);
		usleep(100000);
	}
	sm_det_reset();
	sm_note("; store ok (%ld ms)", waited);
	free(newest.p);
	free(sb.p);
}

/* An fsync of every file, each through a descriptor of its own. */
static void sm_fsync_all(void)
{
	struct sm_tree t = {0};

	sm_model_tree(&t);
	for (size_t k = 0; k < t.n; k++) {
		struct sm_obj *o;
		int fd;

		if (t.v[k].type != 'f')
			continue;
		o = sm_obj_at(t.v[k].path);
		fd = openat(sm_mroot, t.v[k].path, O_RDWR | O_CLOEXEC);
		if (fd < 0)
			sm_fail("cannot open %s on the mount: %s", t.v[k].path,
				strerror(errno));
		if (fsync(fd) != 0)
			sm_fail("fsync %s on the mount: %s", t.v[k].path,
				strerror(errno));
		sm_obj_durable(o);
		if (close(fd) != 0)
			sm_fail("close %s on the mount: %s", t.v[k].path,
				strerror(errno));
		sm_obj_closed(o);
	}
	sm_tree_free(&t);
}

static void sm_close_all(void)
{
	while (sm_nh) {
		struct sm_handle h = sm_hv[sm_nh - 1];

		if (close(h.mfd) != 0)
			sm_fail("close h%u (F%u) on the mount: %s", h.id,
				h.obj->id, strerror(errno));
		close(h.dfd);
		sm_nh--;
		h.obj->nopen--;
		sm_obj_closed(h.obj);
	}
	sm_reap();
}

static void sm_check(void)
{
	sm_stats.checks++;
	sm_note("check");
	if (sm_store)
		sm_store_check("periodic check of the store", SM_STORE_WAIT_MS,
			       0);
	sm_compare_trees("periodic check");
	sm_note("; trees ok");
}

/* Runs cmd with /bin/sh: its exit status, 128 + a signal, or -errno. */
static int sm_run(const char *cmd)
{
	pid_t pid;
	int status;

	fflush(stdout);
	fflush(stderr);
	pid = fork();
	if (pid < 0)
		return -errno;
	if (pid == 0) {
		char *argv[] = {"sh", "-c", (char *)cmd, NULL};

		execv("/bin/sh", argv);
		_exit(127);
	}
	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR)
			return -errno;
	return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

static int sm_open_root(const char *dir)
{
	return open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
}

/*
 * After the restart: the mount against what a crash may leave of each
 * file (see the top of this file); then the model takes what the mount
 * shows.
 */
static void sm_after_kill(void)
{
	struct sm_tree mt = {0}, dt = {0};
	struct sm_buf mb = {0}, newest = {0};
	unsigned long newest_n = 0, older_n = 0, lost_n = 0;
	size_t i = 0, j = 0, bad = 0;
	int rc;

	sm_model_tree(&dt);
	rc = sm_walk(sm_mroot, &mt, 0);
	if (rc)
		sm_fail("after the restart: cannot walk the mount %s: %s",
			sm_mount, strerror(-rc));
	while (i < mt.n || j < dt.n) {
		int c = sm_merge_cmp(&mt, i, &dt, j);
		const struct sm_ent *m = c <= 0 ? &mt.v[i] : NULL;
		const struct sm_ent *d = c >= 0 ? &dt.v[j] : NULL;
		struct sm_obj *o;
		uint64_t h;

		i += c <= 0;
		j += c >= 0;
		if (!d) {
			if (bad++ < SM_SHOWN)
				fprintf(sm_det,
					"  %s (%c) is on the mount after the restart, not in the model\n",
					m->path, m->type);
			continue;
		}
		if (d->type == 'd') {
			if ((!m || m->type != 'd') && bad++ < SM_SHOWN)
				fprintf(sm_det,
					"  directory %s is %s after the restart\n",
					d->path,
					m ? "not a directory" : "missing");
			continue;
		}
		o = sm_obj_at(d->path);
		if (!m) {
			if (!o->synced) {
				lost_n++;
				continue;
			}
			if (bad++ < SM_SHOWN)
				fprintf(sm_det,
					"  %s (F%u, durable since op #%lu, %zu bytes) is missing after the restart\n",
					d->path, o->id, o->synced_op,
					o->durable.len);
			continue;
		}
		if (m->type != 'f') {
			if (bad++ < SM_SHOWN)
				fprintf(sm_det,
					"  file %s is a directory after the restart\n",
					d->path);
			continue;
		}
		rc = sm_slurp_at(sm_mroot, m->path, &mb);
		if (rc)
			sm_fail("after the restart: cannot read %s: %s",
				m->path, strerror(-rc));
		sm_obj_newest(o, &newest);
		h = sm_hash(&mb);
		if (sm_buf_eq(&mb, &newest)) {
			newest_n++;
			continue;
		}
		if ((o->synced && sm_buf_eq(&mb, &o->durable)) ||
		    sm_obj_seen_has(o, h)) {
			older_n++;
			continue;
		}
		if (bad++ < SM_SHOWN) {
			fprintf(sm_det,
				"  %s (F%u) shows a content it never had at a close, an fsync or now:\n",
				d->path, o->id);
			if (o->synced) {
				fprintf(sm_det, "  (durable since op #%lu)\n",
					o->synced_op);
				sm_explain("its durable content", &mb,
					   &o->durable);
			} else {
				fprintf(sm_det,
					"  (never closed nor fsync'ed; %zu contents seen)\n",
					o->nseen);
			}
			sm_explain("its newest content", &mb, &newest);
		}
	}
	if (bad)
		sm_fail("after the restart the mount is not what the crash may leave (%zu problems)",
			bad);

	/* The model takes what the mount shows: all of it durable now. */
	for (size_t k = 0; k < dt.n; k++) {
		const struct sm_ent *d = &dt.v[k];
		struct sm_obj *o;
		int fd;

		if (d->type != 'f')
			continue;
		o = sm_obj_at(d->path);
		if (!sm_find(&mt, d->path)) {
			if (unlinkat(sm_droot, d->path, 0) != 0)
				sm_die("cannot remove %s from the model: %s",
				       d->path, strerror(errno));
			continue;
		}
		rc = sm_slurp_at(sm_mroot, d->path, &mb);
		if (rc)
			sm_fail("after the restart: cannot read %s: %s",
				d->path, strerror(-rc));
		sm_obj_newest(o, &newest);
		if (!sm_buf_eq(&mb, &newest)) {
			fd = openat(sm_droot, d->path,
				    O_WRONLY | O_TRUNC | O_CLOEXEC);
			if (fd < 0 ||
			    (mb.len &&
			     write(fd, mb.p, mb.len) != (ssize_t)mb.len) ||
			    close(fd) != 0)
				sm_die("cannot rewrite %s in the model: %s",
				       d->path, strerror(errno));
		}
		sm_obj_durable(o);
	}
	sm_reap();
	sm_stats.newest += newest_n;
	sm_stats.older += older_n;
	sm_stats.lost += lost_n;
	sm_note("; after the restart: %lu files with their newest content, %lu with an older one, %lu never closed lost",
		newest_n, older_n, lost_n);
	free(mb.p);
	free(newest.p);
	sm_tree_free(&mt);
	sm_tree_free(&dt);
}

static void sm_kill(void)
{
	int rc;

	sm_stats.kills++;
	sm_note("kill and restart (%u handles open)", sm_nh);
	rc = sm_run(sm_kill_cmd);
	if (rc)
		sm_fail("the kill command failed (status %d): %s", rc,
			sm_kill_cmd);
	/* The daemon is gone: its handles only keep the dead mount. */
	while (sm_nh) {
		struct sm_handle *h = &sm_hv[--sm_nh];

		close(h->mfd);
		close(h->dfd);
		h->obj->nopen--;
	}
	close(sm_mroot);
	rc = sm_run(sm_remount_cmd);
	if (rc)
		sm_fail("the remount command failed (status %d): %s", rc,
			sm_remount_cmd);
	sm_mroot = sm_open_root(sm_mount);
	if (sm_mroot < 0)
		sm_fail("cannot open %s after the restart: %s", sm_mount,
			strerror(errno));
	sm_reap();
	sm_after_kill();
	if (sm_store)
		sm_store_check("the store after the restart", SM_STORE_WAIT_MS,
			       0);
}

/* At the start: both trees equal; every file is an object, durable. */
static void sm_adopt(void)
{
	struct sm_tree t = {0};

	sm_model_tree(&t);
	for (size_t k = 0; k < t.n; k++) {
		if (t.v[k].type != 'f')
			continue;
		sm_obj_durable(sm_obj_new(t.v[k].path));
	}
	sm_tree_free(&t);
	sm_compare_trees("at the start");
}

static void sm_final(void)
{
	sm_note("end: close every handle");
	sm_close_all();
	if (sm_store)
		sm_store_check("the store after a close of every handle",
			       SM_STORE_WAIT_MS, 0);
	sm_compare_trees("at the end");
	sm_note("; trees ok");
	if (sm_store) {
		sm_note("; fsync of every file");
		sm_fsync_all();
		sm_store_check("the store after an fsync of every file",
			       SM_STORE_WAIT_MS, 1);
	}
	sm_done();
}

static unsigned long sm_number(const char *opt, const char *s)
{
	unsigned long long v;
	char *end;

	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno || *end || end == s) {
		fprintf(stderr, "stagemodel: %s: not a number: '%s'\n", opt, s);
		exit(2);
	}
	return (unsigned long)v;
}

/* --without OP[,OP...]: those ops never run. */
static void sm_without(const char *list)
{
	const char *p = list;

	while (*p) {
		size_t n = strcspn(p, ",");
		unsigned int i;

		for (i = 0; i < SM_NOPS; i++)
			if (strlen(sm_ops[i].name) == n &&
			    !strncmp(sm_ops[i].name, p, n))
				break;
		if (i == SM_NOPS) {
			fprintf(stderr, "stagemodel: --without: no op '%.*s'\n",
				(int)n, p);
			exit(2);
		}
		sm_ops[i].weight = 0;
		p += n + (p[n] == ',');
	}
}

static void sm_usage(FILE *f)
{
	fputs("usage: stagemodel --mount DIR --model DIR [OPTIONS]\n"
	      "  --seed N          the seed of the sequence (default: the time)\n"
	      "  --ops N           ops to run (default 1000)\n"
	      "  --store DIR       the store's directory of the volume, checked too\n"
	      "  --store-ignore P  names on the store starting with P are not objects\n"
	      "  --check-every N   compare the trees every N ops (default 100, 0: at the end only)\n"
	      "  --max-open N      handles open at most (default 16)\n"
	      "  --kill-every N    kill and restart the daemon about every N ops\n"
	      "  --kill-cmd CMD    kills the daemon (SIGKILL) and unmounts lazily\n"
	      "  --remount-cmd CMD mounts the volume on the mount DIR again\n"
	      "  --without OPS     never run these ops (a comma list: create, open, write,\n"
	      "                    read, ftruncate, truncate, fsync, close, reopen, rename,\n"
	      "                    unlink, mkdir, rmdir, verify), to narrow down a failure\n"
	      "  --timeout S       fail if the run takes more than S seconds\n"
	      "  -v, --verbose     print each op as it ends\n",
	      f);
}

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{"seed", required_argument, NULL, 's'},
		{"ops", required_argument, NULL, 'n'},
		{"mount", required_argument, NULL, 'm'},
		{"model", required_argument, NULL, 'd'},
		{"store", required_argument, NULL, 'S'},
		{"store-ignore", required_argument, NULL, 'I'},
		{"check-every", required_argument, NULL, 'c'},
		{"max-open", required_argument, NULL, 'o'},
		{"kill-every", required_argument, NULL, 'k'},
		{"kill-cmd", required_argument, NULL, 'K'},
		{"remount-cmd", required_argument, NULL, 'R'},
		{"timeout", required_argument, NULL, 't'},
		{"without", required_argument, NULL, 'w'},
		{"verbose", no_argument, NULL, 'v'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	unsigned long check_every = 100, kill_every = 0, next_kill = 0;
	unsigned long timeout = 0;
	int have_seed = 0, c;

	sm_nops = 1000;
	while ((c = getopt_long(argc, argv, "vh", longopts, NULL)) != -1) {
		switch (c) {
		case 's':
			sm_seed = sm_number("--seed", optarg);
			have_seed = 1;
			break;
		case 'n':
			sm_nops = sm_number("--ops", optarg);
			break;
		case 'm':
			sm_mount = optarg;
			break;
		case 'd':
			sm_model = optarg;
			break;
		case 'S':
			sm_store = optarg;
			break;
		case 'I':
			sm_store_ignore = optarg;
			break;
		case 'c':
			check_every = sm_number("--check-every", optarg);
			break;
		case 'o':
			sm_max_open =
				(unsigned int)sm_number("--max-open", optarg);
			break;
		case 'k':
			kill_every = sm_number("--kill-every", optarg);
			break;
		case 'K':
			sm_kill_cmd = optarg;
			break;
		case 'R':
			sm_remount_cmd = optarg;
			break;
		case 't':
			timeout = sm_number("--timeout", optarg);
			break;
		case 'w':
			sm_without(optarg);
			break;
		case 'v':
			sm_verbose = 1;
			break;
		case 'h':
			sm_usage(stdout);
			return 0;
		default:
			sm_usage(stderr);
			return 2;
		}
	}
	if (optind != argc || !sm_mount || !sm_model ||
	    (kill_every && (!sm_kill_cmd || !sm_remount_cmd)) ||
	    sm_max_open < 1 || sm_max_open > SM_HANDLES_MAX) {
		sm_usage(stderr);
		return 2;
	}
	if (!have_seed)
		sm_seed = (uint64_t)time(NULL) ^ ((uint64_t)getpid() << 16);
	sm_rng = sm_seed;
	printf("stagemodel: seed %llu, %lu ops%s\n",
	       (unsigned long long)sm_seed, sm_nops,
	       kill_every ? ", with kills" : "");
	fflush(stdout);

	sm_det_reset();
	sm_wbuf = malloc(SM_WRITE_MAX);
	sm_rbuf[0] = malloc(SM_READ_MAX);
	sm_rbuf[1] = malloc(SM_READ_MAX);
	if (!sm_wbuf || !sm_rbuf[0] || !sm_rbuf[1])
		sm_die("out of memory");
	sm_mroot = sm_open_root(sm_mount);
	sm_droot = sm_open_root(sm_model);
	if (sm_mroot < 0 || sm_droot < 0)
		sm_die("cannot open %s: %s", sm_mroot < 0 ? sm_mount : sm_model,
		       strerror(errno));
	if (sm_store) {
		sm_sroot = sm_open_root(sm_store);
		if (sm_sroot < 0)
			sm_die("cannot open %s: %s", sm_store, strerror(errno));
	}
	if (timeout) {
		signal(SIGALRM, sm_alarm);
		alarm((unsigned int)timeout);
	}

	sm_adopt();
	if (kill_every)
		next_kill = kill_every / 2 + 1 + sm_below(kill_every);
	for (sm_op = 1; sm_op <= sm_nops; sm_op++) {
		if (sm_op == next_kill) {
			sm_kill();
			next_kill += kill_every / 2 + 1 + sm_below(kill_every);
		} else {
			sm_step();
		}
		sm_done();
		if (check_every && sm_op % check_every == 0 &&
		    sm_op < sm_nops) {
			sm_check();
			sm_done();
		}
	}
	sm_op = sm_nops;
	sm_final();

	printf("stagemodel: seed %llu: %lu ops passed (",
	       (unsigned long long)sm_seed, sm_nops);
	for (unsigned int i = 0; i < SM_NOPS; i++)
		printf("%s%lu %s", i ? ", " : "", sm_stats.ops[i],
		       sm_ops[i].name);
	printf("; %lu failed on both trees alike), %lu checks, %lu of the store\n",
	       sm_stats.failed_ops, sm_stats.checks, sm_stats.store_checks);
	if (kill_every)
		printf("stagemodel: %lu kills; files after them: %lu with their newest content, %lu with an older one a crash may leave, %lu never closed lost\n",
		       sm_stats.kills, sm_stats.newest, sm_stats.older,
		       sm_stats.lost);
	return 0;
}
