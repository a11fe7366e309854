/* SPDX-License-Identifier: MIT */
/*
 * The cache journal: one small file per dirty staged file,
 * cache/journal/ID, beside its copy cache/data/ID.  An entry is written
 * whole to ID.new and renamed over ID, so a crash leaves the old entry or
 * the new, never a torn one; it goes when the store has the file.  It
 * holds what the next process needs to upload the copy: the path, the
 * version the copy started from, which of the store's blocks the copy has,
 * the size and the modification time, and whether the file was closed
 * (uploaded after a crash) or still open (left as the store has it).
 * Strings are written in hex, so a name may hold any byte.
 *
 * Entries are written without fsync when a file is closed: a crash of the
 * daemon keeps them (they are in the kernel's page cache), and so does a
 * clean reboot.  fsync() uploads before it returns, which needs none.
 */
#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "stage_int.h"

#define STAGE_J_MAGIC "volfs-stage-journal 1"
#define STAGE_J_MAX (PATH_MAX * 2 + VOLFS_STORE_VERSION_MAX * 2 + 1024)

static void stage_hex(FILE *fp, const void *p, size_t n)
{
	const unsigned char *b = p;

	for (size_t i = 0; i < n; i++)
		fprintf(fp, "%02x", b[i]);
	if (!n)
		fputc('-', fp);
}

int stage_journal_put(struct stage *s, struct stage_file *f, int state,
		      int sync)
{
	char name[48], tmp[48];
	size_t mapn = f->present ? (f->nblocks + 7) / 8 : 0;
	char *buf = NULL;
	size_t len = 0;
	FILE *fp;
	int fd, rc = 0;

	if (!f->path)
		return 0;
	fp = open_memstream(&buf, &len);
	if (!fp)
		return -ENOMEM;
	fprintf(fp,
		"%s\nstate %d\nremote %d\nrsize %jd\nsize %jd\n"
		"mtime %jd %ld\nbase ",
		STAGE_J_MAGIC, state, f->remote, (intmax_t)f->rsize,
		(intmax_t)f->size, (intmax_t)f->st.st_mtim.tv_sec,
		f->st.st_mtim.tv_nsec);
	stage_hex(fp, f->base, strlen(f->base));
	fputs("\npath ", fp);
	stage_hex(fp, f->path, strlen(f->path));
	fprintf(fp, "\nblocks %zu\npresent ", f->nblocks);
	stage_hex(fp, f->present, mapn);
	fputc('\n', fp);
	if (fclose(fp) != 0) {
		free(buf);
		return -ENOMEM;
	}
	snprintf(name, sizeof(name), "%" PRIu64, f->id);
	snprintf(tmp, sizeof(tmp), "%" PRIu64 ".new", f->id);
	fd = openat(s->jfd, tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC,
		    0600);
	if (fd < 0) {
		rc = -errno;
		goto out;
	}
	if (write(fd, buf, len) != (ssize_t)len)
		rc = -EIO;
	if (!rc && sync && fsync(fd) != 0)
		rc = -errno;
	close(fd);
	if (!rc && renameat(s->jfd, tmp, s->jfd, name) != 0)
		rc = -errno;
	if (!rc && sync && fsync(s->jfd) != 0)
		rc = -errno;
	if (rc)
		unlinkat(s->jfd, tmp, 0);
out:
	free(buf);
	if (rc) {
		stage_log(s, VOLFS_LOG_ERR,
			  "cannot write the cache journal entry of '%s': %s "
			  "(a crash now would lose its changes)",
			  f->path, strerror(-rc));
		STAGE_COUNT(s, errors, 1);
		return rc;
	}
	f->jstate = state;
	return 0;
}

void stage_journal_del(struct stage *s, struct stage_file *f)
{
	char name[48];

	if (f->jstate < 0)
		return;
	snprintf(name, sizeof(name), "%" PRIu64, f->id);
	unlinkat(s->jfd, name, 0);
	f->jstate = -1;
}

static int stage_unhex(const char *h, void *out, size_t max, size_t *n)
{
	unsigned char *b = out;
	size_t len = strlen(h);

	if (strcmp(h, "-") == 0) {
		*n = 0;
		return 0;
	}
	if (len % 2 || len / 2 > max)
		return -EINVAL;
	for (size_t i = 0; i < len / 2; i++) {
		unsigned v;

		if (sscanf(h + 2 * i, "%2x", &v) != 1)
			return -EINVAL;
		b[i] = (unsigned char)v;
	}
	*n = len / 2;
	return 0;
}

/* Copies the value of line "key VALUE" of entry text into out. */
static char *stage_field(const char *text, const char *key, char *out,
			 size_t outlen)
{
	size_t n = strlen(key);
	const char *p = text;

	while (p && *p) {
		if (strncmp(p, key, n) == 0 && p[n] == ' ') {
			const char *end = strchr(p + n + 1, '\n');
			size_t len = end ? (size_t)(end - p - n - 1)
					 : strlen(p + n + 1);

			if (len >= outlen)
				return NULL;
			memcpy(out, p + n + 1, len);
			out[len] = '\0';
			return out;
		}
		p = strchr(p, '\n');
		if (p)
			p++;
	}
	return NULL;
}

/* Reads entry id into a new staged file; NULL when it is unusable. */
static struct stage_file *stage_journal_load(struct stage *s, uint64_t id,
					     int *state)
{
	char name[48], *text, *v, *val = NULL, path[PATH_MAX];
	struct stage_file *f;
	intmax_t rsize, size, sec;
	long nsec;
	size_t n;
	ssize_t got;
	int fd, remote;

	snprintf(name, sizeof(name), "%" PRIu64, id);
	fd = openat(s->jfd, name, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0)
		return NULL;
	text = calloc(1, STAGE_J_MAX + 1);
	val = malloc(STAGE_J_MAX + 1);
	if (!text || !val) {
		free(text);
		free(val);
		close(fd);
		return NULL;
	}
	got = read(fd, text, STAGE_J_MAX);
	close(fd);
	f = calloc(1, sizeof(*f));
	if (got <= 0 || !f ||
	    strncmp(text, STAGE_J_MAGIC "\n", sizeof(STAGE_J_MAGIC)) != 0)
		goto bad;
	if (!(v = stage_field(text, "state", val, STAGE_J_MAX)) ||
	    sscanf(v, "%d", state) != 1)
		goto bad;
	if (!(v = stage_field(text, "remote", val, STAGE_J_MAX)) ||
	    sscanf(v, "%d", &remote) != 1)
		goto bad;
	if (!(v = stage_field(text, "rsize", val, STAGE_J_MAX)) ||
	    sscanf(v, "%jd", &rsize) != 1)
		goto bad;
	if (!(v = stage_field(text, "size", val, STAGE_J_MAX)) ||
	    sscanf(v, "%jd", &size) != 1)
		goto bad;
	if (!(v = stage_field(text, "mtime", val, STAGE_J_MAX)) ||
	    sscanf(v, "%jd %ld", &sec, &nsec) != 2)
		goto bad;
	if (!(v = stage_field(text, "base", val, STAGE_J_MAX)) ||
	    stage_unhex(v, f->base, sizeof(f->base) - 1, &n))
		goto bad;
	if (!(v = stage_field(text, "path", val, STAGE_J_MAX)) ||
	    stage_unhex(v, path, sizeof(path) - 1, &n) || !n)
		goto bad;
	path[n] = '\0';
	if (!(v = stage_field(text, "blocks", val, STAGE_J_MAX)) ||
	    sscanf(v, "%zu", &f->nblocks) != 1)
		goto bad;
	if (!(v = stage_field(text, "present", val, STAGE_J_MAX)))
		goto bad;
	if (strcmp(v, "-") != 0) {
		size_t mapn = (f->nblocks + 7) / 8;

		f->present = calloc(mapn ? mapn : 1, 1);
		f->fetching = calloc(mapn ? mapn : 1, 1);
		if (!f->present || !f->fetching ||
		    stage_unhex(v, f->present, mapn, &n) || n != mapn)
			goto bad;
	}
	if (rsize < 0 || size < 0 || memchr(path, '\0', n) ||
	    (rsize && f->present &&
	     f->nblocks != (size_t)((rsize + STAGE_BLOCK - 1) / STAGE_BLOCK)))
		goto bad;
	f->path = strdup(path);
	if (!f->path)
		goto bad;
	f->mem = sizeof(*f) + strlen(path) + 1 +
		 (f->present ? 2 * ((f->nblocks + 7) / 8) : 0);
	f->id = id;
	f->remote = remote;
	f->rsize = rsize;
	f->size = size;
	f->st.st_mode = S_IFREG | 0644;
	f->st.st_nlink = 1;
	f->st.st_mtim.tv_sec = sec;
	f->st.st_mtim.tv_nsec = nsec;
	f->st.st_ctim = f->st.st_atim = f->st.st_mtim;
	f->jstate = *state;
	f->ra_win = STAGE_RA_MIN;
	f->fd = openat(s->datafd, name, O_RDWR | O_CLOEXEC | O_NOFOLLOW);
	if (f->fd < 0)
		goto bad;
	/* The copy is as long as the file; the entry's size may be older
	 * (the file was written again after its close). */
	{
		struct stat cst;

		if (fstat(f->fd, &cst) != 0)
			goto bad_fd;
		f->size = cst.st_size;
	}
	free(text);
	free(val);
	return f;
bad_fd:
	close(f->fd);
bad:
	if (f) {
		free(f->present);
		free(f->fetching);
		free(f->path);
		free(f);
	}
	free(text);
	free(val);
	return NULL;
}

int stage_journal_replay(struct stage *s)
{
	DIR *d;
	struct dirent *de;
	int fd;
	unsigned queued = 0, dropped = 0;

	/* Ids go on from the highest in use. */
	s->next_id = 1;
	fd = openat(s->jfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	d = fdopendir(fd);
	if (!d) {
		close(fd);
		return -errno;
	}
	while ((de = readdir(d))) {
		char *end;
		uint64_t id = strtoull(de->d_name, &end, 10);
		struct stage_file *f, *old;
		int state;

		if (de->d_name[0] == '.')
			continue;
		if (*end) {
			/* A ".new" an earlier process did not rename. */
			unlinkat(s->jfd, de->d_name, 0);
			continue;
		}
		if (id >= s->next_id)
			s->next_id = id + 1;
		f = stage_journal_load(s, id, &state);
		if (!f || state != STAGE_J_CLOSED) {
			if (f) {
				stage_log(s, VOLFS_LOG_NOTICE,
					  "'%s' was open and not fsync'ed "
					  "when the previous process "
					  "stopped: its unsaved changes are "
					  "dropped, the store keeps what it "
					  "has",
					  f->path);
				close(f->fd);
				free(f->present);
				free(f->fetching);
				free(f->path);
				free(f);
			} else {
				stage_log(s, VOLFS_LOG_WARNING,
					  "cache journal entry %" PRIu64
					  " is unreadable; dropped",
					  id);
			}
			unlinkat(s->jfd, de->d_name, 0);
			dropped++;
			continue;
		}
		/* Two entries for one name: the later one is the file's. */
		pthread_mutex_lock(&s->lock);
		old = stage_find(s, f->path);
		if (old && old->id > f->id) {
			pthread_mutex_unlock(&s->lock);
			f->jstate = STAGE_J_CLOSED;
			stage_journal_del(s, f);
			stage_file_free(s, f);
			continue;
		}
		if (old) {
			stage_hash_del(s, old);
			stage_unqueue(s, old);
			stage_journal_del(s, old);
			stage_file_free(s, old);
		}
		/* Dirty, as the previous process left it. */
		stage_mem(s, (int64_t)f->mem);
		f->gen = 1;
		f->synced = 0;
		stage_hash_add(s, f);
		stage_charge(s, f);
		stage_queue(s, f, 0);
		pthread_mutex_unlock(&s->lock);
		queued++;
	}
	closedir(d);
	/* Copies without an entry are clean ones of the earlier process,
	 * whose versions nobody remembers. */
	fd = openat(s->datafd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd >= 0 && (d = fdopendir(fd))) {
		while ((de = readdir(d))) {
			char *end;
			uint64_t id = strtoull(de->d_name, &end, 10);

			if (de->d_name[0] == '.')
				continue;
			pthread_mutex_lock(&s->lock);
			{
				int keep = 0;

				for (size_t i = 0; !*end && i < s->nbuckets;
				     i++)
					for (struct stage_file *f = s->tab[i];
					     f; f = f->hnext)
						if (f->id == id)
							keep = 1;
				if (!keep)
					unlinkat(s->datafd, de->d_name, 0);
				else if (id >= s->next_id)
					s->next_id = id + 1;
			}
			pthread_mutex_unlock(&s->lock);
		}
		closedir(d);
	} else if (fd >= 0) {
		close(fd);
	}
	if (queued || dropped)
		stage_log(s, VOLFS_LOG_NOTICE,
			  "cache journal: %u file(s) left by the previous "
			  "process queued for upload, %u dropped",
			  queued, dropped);
	return 0;
}
