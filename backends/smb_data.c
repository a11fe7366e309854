/* SPDX-License-Identifier: MIT */
/*
 * The smb store's file contents: get() by ranges through kept read
 * handles, put() through a temporary file written over several
 * connections and then given the target's name (smb.c says how).
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "volfs/backend.h"
#include "volfs/store.h"
#include "smb_int.h"

/* Helper threads of one put() at most, beside the caller's. */
#define SMB_PUT_HELPERS (SMB_CONNS_MAX - 1)

/* conn i's buffer of SMB_CHUNK + 1 bytes, made on first use. */
static char *smb_buf(struct smb_vol *v, unsigned i)
{
	if (!v->conn[i].buf)
		v->conn[i].buf = malloc(SMB_CHUNK + 1);
	return v->conn[i].buf;
}

/* Writes len bytes of buf to fd at off: 0 or -errno. */
static int smb_pwrite_all(int fd, const char *buf, size_t len, off_t off)
{
	while (len) {
		ssize_t n = pwrite(fd, buf, len, off);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		if (n == 0)
			return -EIO;
		buf += n;
		len -= (size_t)n;
		off += n;
	}
	return 0;
}

/* ---- get ---- */

/*
 * Reads [off, off + len) of path on conn i (held) into fd or buf, through
 * the read handle kept for path at version, or a new one.  The handle is
 * kept for the next range unless the read reached the end of the file
 * (the last request of a read into fd asks for one byte more, to know).
 */
static ssize_t smb_fetch_on(struct smb_vol *v, unsigned i, const char *path,
			    const char *version, off_t off, size_t len, int fd,
			    char *buf, int64_t deadline)
{
	SMBCCTX *ctx = v->conn[i].ctx;
	char url[SMB_URL_MAX], *dst;
	struct smb_rh *r;
	SMBCFILE *h;
	size_t done = 0;
	int eof = 0, retried = 0;
	ssize_t rc = 0;

	if (fd >= 0 && !smb_buf(v, i))
		return -ENOMEM;
	rc = smb_url(v, path, url, sizeof(url));
	if (rc)
		return rc;
	r = smb_rh_find(v, i, path, version);
	h = r ? r->h : NULL;
	while (done < len && !eof) {
		size_t want = len - done, ask;
		ssize_t n;
		int e;

		rc = smb_late(deadline);
		if (rc)
			break;
		if (!h) {
			errno = 0;
			h = smbc_getFunctionOpen(ctx)(ctx, url, O_RDONLY, 0);
			if (!h) {
				e = errno ? errno : EIO;
				if (!retried++ &&
				    (e == ECONNRESET || e == ECONNABORTED ||
				     e == EPIPE || e == ENOTCONN))
					continue;
				rc = smb_fail(v, i, e);
				break;
			}
		}
		if (want > SMB_CHUNK)
			want = SMB_CHUNK;
		dst = fd >= 0 ? v->conn[i].buf : buf + done;
		ask = fd >= 0 && want == len - done ? want + 1 : want;
		errno = 0;
		n = -1;
		if (smbc_getFunctionLseek(ctx)(ctx, h, off + (off_t)done,
					       SEEK_SET) >= 0)
			n = smbc_getFunctionRead(ctx)(ctx, h, dst, ask);
		if (n < 0) {
			e = errno ? errno : EIO;
			/* The handle died with its connection: once more
			 * on a new one. */
			if (r)
				smb_rh_close(v, i, r);
			else
				smbc_getFunctionClose(ctx)(ctx, h);
			r = NULL;
			h = NULL;
			if (!retried++ && smb_conn_lost(e))
				continue;
			rc = smb_fail(v, i, e);
			break;
		}
		/* libsmbclient reads until the count or the end. */
		if ((size_t)n < ask)
			eof = 1;
		if ((size_t)n > want)
			n = (ssize_t)want;
		if (fd >= 0 && n > 0) {
			rc = smb_pwrite_all(fd, dst, (size_t)n,
					    off + (off_t)done);
			if (rc)
				break;
		}
		done += (size_t)n;
		/* Handles others wait for close between requests. */
		smb_rh_service(v, i);
	}
	if (h && r && (eof || rc))
		smb_rh_close(v, i, r);
	else if (h && !r && !eof && !rc)
		smb_rh_keep(v, i, path, version, h);
	else if (h && !r)
		smbc_getFunctionClose(ctx)(ctx, h);
	return rc < 0 ? rc : (ssize_t)done;
}

ssize_t smb_fetch(void *st, const char *path, const char *version, off_t off,
		  size_t len, int fd, void *buf, int64_t deadline)
{
	struct smb_vol *v = st;
	struct smb_plock l = {.path = path};
	ssize_t rc;
	int i;

	if (smb_hidden(path))
		return -ENOENT;
	if (off < 0)
		return -EINVAL;
	if (!version)
		version = "";
	rc = smb_lock(v, &l, deadline);
	if (rc)
		return rc;
	i = smb_get(v, path, deadline);
	if (i < 0) {
		rc = i;
		goto out;
	}
	rc = smb_fetch_on(v, (unsigned)i, path, version, off, len, fd, buf,
			  deadline);
	smb_put(v, (unsigned)i);
out:
	smb_unlock(v, &l);
	return rc;
}

/* ---- put ---- */

/* One upload: the chunks of fd that go to url, taken by the caller's
 * thread and the helpers, in order. */
struct smb_up {
	struct smb_vol *v;
	char url[SMB_URL_MAX];
	/* Read with pread; seeked for data and holes when it is a
	 * descriptor of its own (own), so the caller's offset stays. */
	int fd;
	int own, holes;
	off_t size;
	int64_t deadline;
	pthread_mutex_t lock;
	/* The file was made (and is removed should the put fail). */
	int made;
	/* Where the next chunk starts; the first error; under lock. */
	off_t next;
	int err;
};

/* Takes the next piece with data, at most SMB_CHUNK: 1 with it in *off
 * and *len, 0 when none is left. */
static int smb_up_next(struct smb_up *u, off_t *off, size_t *len)
{
	int got = 0;

	pthread_mutex_lock(&u->lock);
	while (!u->err && u->next < u->size) {
		off_t o = u->next, end = o + (off_t)SMB_CHUNK, d = o, h;

		if (end > u->size)
			end = u->size;
		if (u->holes) {
			d = lseek(u->fd, o, SEEK_DATA);
			if (d < 0 && errno == ENXIO) {
				/* Holes to the end. */
				u->next = u->size;
				break;
			}
			if (d < 0)
				d = o;
			if (d >= end) {
				u->next = d;
				continue;
			}
			h = lseek(u->fd, d, SEEK_HOLE);
			if (h > d && h < end)
				end = h;
		}
		u->next = end;
		*off = d;
		*len = (size_t)(end - d);
		got = 1;
		break;
	}
	pthread_mutex_unlock(&u->lock);
	return got;
}

static void smb_up_fail(struct smb_up *u, int rc)
{
	pthread_mutex_lock(&u->lock);
	if (!u->err)
		u->err = rc;
	pthread_mutex_unlock(&u->lock);
}

/* Sends chunks through h, open on conn i (held), until none is left. */
static int smb_up_send(struct smb_up *u, unsigned i, SMBCFILE *h)
{
	struct smb_vol *v = u->v;
	SMBCCTX *ctx = v->conn[i].ctx;
	char *buf = smb_buf(v, i);
	size_t len;
	off_t off;
	int rc = 0;

	if (!buf)
		rc = -ENOMEM;
	while (!rc && smb_up_next(u, &off, &len)) {
		size_t got = 0;
		ssize_t n;

		rc = smb_late(u->deadline);
		while (!rc && got < len) {
			n = pread(u->fd, buf + got, len - got,
				  off + (off_t)got);
			if (n < 0 && errno == EINTR)
				continue;
			if (n < 0)
				rc = -errno;
			else if (n == 0)
				/* Shorter than said. */
				rc = -EIO;
			else
				got += (size_t)n;
		}
		if (rc)
			break;
		errno = 0;
		n = -1;
		if (smbc_getFunctionLseek(ctx)(ctx, h, off, SEEK_SET) >= 0)
			n = smbc_getFunctionWrite(ctx)(ctx, h, buf, len);
		if (n != (ssize_t)len)
			rc = smb_fail(v, i, n < 0 && errno ? errno : EIO);
		smb_rh_service(v, i);
	}
	if (rc)
		smb_up_fail(u, rc);
	return rc;
}

/* A helper: on a connection that is free now, if any, opens the file
 * and sends chunks beside the caller. */
static void *smb_up_helper(void *arg)
{
	struct smb_up *u = arg;
	struct smb_vol *v = u->v;
	SMBCCTX *ctx;
	SMBCFILE *h;
	int i = smb_tryget(v);

	if (i < 0)
		return NULL;
	ctx = v->conn[i].ctx;
	errno = 0;
	/* If it cannot open, the caller's thread sends its share. */
	h = smbc_getFunctionOpen(ctx)(ctx, u->url, O_WRONLY, 0);
	if (h) {
		smb_up_send(u, (unsigned)i, h);
		errno = 0;
		if (smbc_getFunctionClose(ctx)(ctx, h) < 0)
			smb_up_fail(u, smb_fail(v, (unsigned)i,
						errno ? errno : EIO));
	}
	smb_put(v, (unsigned)i);
	return NULL;
}

/*
 * Writes the first size bytes of fd to the new file u->url on conn i
 * (held): extended to size first when fd has holes (they are not sent),
 * in chunks over the free connections when it is big.
 */
static int smb_up_file(struct smb_up *u, unsigned i)
{
	struct smb_vol *v = u->v;
	SMBCCTX *ctx = v->conn[i].ctx;
	pthread_t helpers[SMB_PUT_HELPERS];
	unsigned nhelpers = 0, want;
	SMBCFILE *h;
	off_t hole;
	int rc;

	errno = 0;
	h = smbc_getFunctionOpen(ctx)(ctx, u->url, O_WRONLY | O_CREAT | O_EXCL,
				      0644);
	if (!h)
		return smb_fail(v, i, errno ? errno : EIO);
	u->made = 1;
	hole = u->own ? lseek(u->fd, 0, SEEK_HOLE) : -1;
	u->holes = hole >= 0 && hole < u->size;
	rc = 0;
	if (u->holes) {
		errno = 0;
		if (smbc_getFunctionFtruncate(ctx)(ctx, h, u->size) < 0)
			rc = smb_fail(v, i, errno ? errno : EIO);
	}
	want = (unsigned)((u->size + (off_t)SMB_CHUNK - 1) / (off_t)SMB_CHUNK);
	if (want > v->nconns)
		want = v->nconns;
	while (!rc && smb_parallel() && nhelpers + 1 < want &&
	       nhelpers < SMB_PUT_HELPERS &&
	       pthread_create(&helpers[nhelpers], NULL, smb_up_helper, u) == 0)
		nhelpers++;
	if (!rc)
		rc = smb_up_send(u, i, h);
	errno = 0;
	if (smbc_getFunctionClose(ctx)(ctx, h) < 0 && !rc)
		rc = smb_fail(v, i, errno ? errno : EIO);
	for (unsigned k = 0; k < nhelpers; k++)
		pthread_join(helpers[k], NULL);
	return rc ? rc : u->err;
}

/* A descriptor of fd's file with an offset of its own, or -1. */
static int smb_own_fd(int fd)
{
	char name[64];

	snprintf(name, sizeof(name), "/proc/self/fd/%d", fd);
	return open(name, O_RDONLY | O_CLOEXEC);
}

/* Sets the modification time of the new file u->url on conn i (held). */
static int smb_up_mtime(struct smb_up *u, unsigned i,
			const struct timespec *mtime)
{
	struct smb_vol *v = u->v;
	SMBCCTX *ctx = v->conn[i].ctx;
	struct timeval t[2];
	struct timespec now;
	int rc;

	clock_gettime(CLOCK_REALTIME, &now);
	t[0].tv_sec = now.tv_sec;
	t[0].tv_usec = now.tv_nsec / 1000;
	t[1].tv_sec = mtime->tv_sec;
	t[1].tv_usec = mtime->tv_nsec / 1000;
	rc = smb_late(u->deadline);
	if (!rc)
		SMB_PATH_OP(v, i, rc, u->deadline,
			    smbc_getFunctionUtimes(ctx)(ctx, u->url, t));
	return rc < 0 ? rc : 0;
}

/*
 * The upload (path held for it): looks at what is at path, to refuse
 * early and to know whether it is replaced (*exists), and writes the new
 * file with its modification time.
 */
static int smb_up_send_all(struct smb_up *u, const char *path, int fd,
			   int create_only, const struct timespec *mtime,
			   int *exists)
{
	struct smb_vol *v = u->v;
	struct stat raw;
	int i, rc;

	i = smb_get(v, NULL, u->deadline);
	if (i < 0)
		return i;
	rc = smb_stat_raw(v, (unsigned)i, path, &raw, u->deadline);
	*exists = rc == 0;
	if (rc == -ENOENT)
		rc = 0;
	else if (!rc && S_ISDIR(raw.st_mode))
		rc = -EISDIR;
	else if (!rc && create_only)
		rc = -EEXIST;
	if (!rc) {
		u->fd = smb_own_fd(fd);
		u->own = u->fd >= 0;
		if (!u->own)
			u->fd = fd;
		rc = smb_up_file(u, (unsigned)i);
		if (u->own)
			close(u->fd);
	}
	if (!rc && mtime)
		rc = smb_up_mtime(u, (unsigned)i, mtime);
	smb_put(v, (unsigned)i);
	return rc;
}

/*
 * The commit (path held alone), after an upload that ended with rc: the
 * new file tmp takes path's name, or when anything failed is removed.
 * Fills *out when asked.
 */
static int smb_up_commit(struct smb_up *u, const char *path, const char *tmp,
			 int exists, int create_only, int rc,
			 struct volfs_store_attr *out)
{
	struct smb_vol *v = u->v;
	struct stat raw;
	int i;

	/* Past the deadline too: the file would stay behind. */
	i = smb_get(v, NULL,
		    rc ? volfs_store_deadline(v->p.timeout_ms) : u->deadline);
	if (i < 0) {
		if (u->made)
			smb_orphan(v, tmp);
		return rc ? rc : i;
	}
	if (!rc && create_only) {
		/* Still free?  What another client makes between this look
		 * and the rename is replaced. */
		rc = smb_stat_raw(v, (unsigned)i, path, &raw, u->deadline);
		rc = rc == 0 ? -EEXIST : rc == -ENOENT ? 0 : rc;
	}
	if (!rc && exists)
		rc = smb_swap(v, (unsigned)i, tmp, path, u->deadline);
	else if (!rc)
		rc = smb_rename_raw(v, (unsigned)i, tmp, path, u->deadline);
	if (rc && u->made) {
		/* Unless the server is gone: then the janitor removes it
		 * once it is back. */
		int rc2 = rc == -ETIMEDOUT || rc == -EHOSTUNREACH
				  ? rc
				  : smb_unlink_raw(v, (unsigned)i, tmp,
						   volfs_store_deadline(
							   v->p.timeout_ms));

		if (rc2 && rc2 != -ENOENT)
			smb_orphan(v, tmp);
	}
	if (!rc && out) {
		if (smb_stat_raw(v, (unsigned)i, path, &raw, u->deadline) ==
		    0) {
			smb_attr(v, &raw, out);
		} else {
			/* Uploaded: what is known of it, no version. */
			memset(&raw, 0, sizeof(raw));
			raw.st_mode = S_IFREG;
			raw.st_size = u->size;
			clock_gettime(CLOCK_REALTIME, &raw.st_mtim);
			smb_attr(v, &raw, out);
			out->version[0] = '\0';
		}
	}
	smb_put(v, (unsigned)i);
	return rc;
}

int smb_upload(void *st, const char *path, int fd, off_t size,
	       const char *if_version, const struct timespec *mtime,
	       struct volfs_store_attr *out, int64_t deadline)
{
	struct smb_vol *v = st;
	struct smb_plock l = {.path = path, .kind = SMB_LOCK_UPLOAD};
	int create_only = if_version && !*if_version;
	char tmp[PATH_MAX];
	struct smb_up *u;
	struct stat sst;
	int rc, exists = 0;

	if (smb_hidden(path))
		return -EACCES;
	if (!*path)
		return -EISDIR;
	if (size < 0 || fd < 0)
		return -EINVAL;
	/* A source shorter than size would make a file of what it is not;
	 * one not open for reading is refused as pread() would refuse it
	 * (the descriptor of its own is opened anew). */
	if ((fcntl(fd, F_GETFL) & O_ACCMODE) == O_WRONLY)
		return -EBADF;
	if (fstat(fd, &sst) < 0)
		return -errno;
	if (sst.st_size < size)
		return -EIO;
	rc = smb_tmp_name(path, tmp, sizeof(tmp));
	if (rc)
		return rc;
	u = calloc(1, sizeof(*u));
	if (!u)
		return -ENOMEM;
	u->v = v;
	u->size = size;
	u->deadline = deadline;
	pthread_mutex_init(&u->lock, NULL);
	rc = smb_url(v, tmp, u->url, sizeof(u->url));
	if (!rc)
		rc = smb_lock(v, &l, deadline);
	if (rc)
		goto out_free;
	/* No path lock is waited for with a connection borrowed: its
	 * holder may need one. */
	rc = smb_up_send_all(u, path, fd, create_only, mtime, &exists);
	/* Readers of the old file finish first, later ones wait. */
	if (!rc)
		rc = smb_lock_excl(v, &l, deadline);
	if (!rc || u->made)
		rc = smb_up_commit(u, path, tmp, exists, create_only, rc, out);
	smb_unlock(v, &l);
out_free:
	pthread_mutex_destroy(&u->lock);
	free(u);
	return rc;
}
