/* SPDX-License-Identifier: MIT */
/*
 * What the files of the dirstore backend share (dirstore.c: the store's
 * ops and the backend table; dirstore_util.c: errors, the knobs, paths
 * resolved beneath the root, attributes and versions, data copies and
 * temporary files).  How the store works is described at the top of
 * dirstore.c.
 */
#ifndef VOLFS_DIRSTORE_INT_H
#define VOLFS_DIRSTORE_INT_H

#include <pthread.h>
#include <stdint.h>
#include <sys/stat.h>
#include <sys/types.h>

#include "volfs/store.h"

#if defined(HAVE_LINUX_OPENAT2_H) && HAVE_DECL_SYS_OPENAT2
#define DS_HAVE_OPENAT2 1
#endif

#define DS_CAPS                                                                \
	(VOLFS_STORE_DIRS | VOLFS_STORE_RENAME | VOLFS_STORE_COPY |            \
	 VOLFS_STORE_VERSIONS | VOLFS_STORE_TIMES)

/* Entries per list() page. */
#define DS_PAGE 1000
/* The prefix of temporary files. */
#define DS_TMP ".volfs-tmp-"
#define DS_TMP_LEN (sizeof(DS_TMP) - 1)
#define DS_TMP_MAX 64
/* openat2() fails with EAGAIN when a rename races with the resolution;
 * a temporary name may be left over from an earlier process. */
#define DS_RETRIES 16
/* The buffer of a copy where copy_file_range() cannot be used. */
#define DS_COPY_BUF (128 * 1024)
/* The most VOLFS_DIRSTORE_DELAY_MS may ask for: an hour. */
#define DS_DELAY_MAX 3600000UL
/* The most timeout= may say, in seconds (the staging layer's limit). */
#define DS_TIMEOUT_MAX 600U

struct dirstore {
	/* The directory given with path=, O_PATH. */
	int rootfd;
	/* VOLFS_DIRSTORE_FAIL, or NULL. */
	char *fail_file;
	/* VOLFS_DIRSTORE_DELAY_MS. */
	unsigned delay_ms;
	/* Makes a conditional put's check and rename one step to the other
	 * ops that replace, move or remove a name. */
	pthread_mutex_t lock;
	/* Numbers temporary names. */
	unsigned long serial;
};

/* The one place a system error becomes a store error (store.h). */
int ds_err(int e);

/*
 * Simulates the server (the knobs above); 0 when the op may go on.  Every
 * op calls it first.
 */
int ds_enter(struct dirstore *ds, int64_t deadline);

/*
 * Checks the shape of an object's path (store.h): 0, -EINVAL,
 * -ENAMETOOLONG, or -EACCES for a component that is a temporary name.
 */
int ds_check(const char *path);

/*
 * Opens path (a checked, non-empty path) beneath the store's root without
 * following any symbolic link; the descriptor or a store error.
 */
int ds_open_beneath(struct dirstore *ds, const char *path, int flags);

/*
 * Opens the directory holding path's object (O_PATH or O_RDONLY in flags)
 * and points *name at the object's name in it.  path is checked and not
 * the root.
 */
int ds_parent(struct dirstore *ds, const char *path, int flags,
	      const char **name);

/* Only regular files and directories are objects. */
int ds_kind(const struct stat *st);

/* What stat() and list() show: objects, and symbolic links as links (so
 * the volume shows what the host holds), never followed. */
int ds_shown(const struct stat *st);

void ds_version(const struct stat *st, char *v);

void ds_attr(const struct stat *st, struct volfs_store_attr *a);

/* lstat() of a checked path, the root included; a store error. */
int ds_lstat(struct dirstore *ds, const char *path, struct stat *st);

/* Opens a regular file for reading; -EISDIR for a directory. */
int ds_open_file(struct dirstore *ds, const char *path, struct stat *st);

ssize_t ds_pwrite_all(int fd, const char *buf, size_t len, off_t off);

ssize_t ds_pread_all(int fd, char *buf, size_t len, off_t off);

/*
 * Copies up to len bytes of in from ioff into out at ooff, leaving both
 * file offsets alone; the count, short only at in's end.
 */
ssize_t ds_transfer(int in, off_t ioff, int out, off_t ooff, size_t len);

/*
 * Makes a temporary file in dfd, its name in tmp; the descriptor (open
 * for writing) or a store error.
 */
int ds_tmp_open(struct dirstore *ds, int dfd, char *tmp);

/* renameat2(RENAME_NOREPLACE), with the store's lock held. */
int ds_rename_noreplace(int ofd, const char *oname, int nfd, const char *nname);

/*
 * Checks if_version (as put() takes it) against name in dfd and renames
 * the temporary file tmp over it, under the store's lock.
 */
int ds_commit(struct dirstore *ds, int dfd, const char *tmp, const char *name,
	      const char *if_version);

/*
 * The end of put() and copy(): makes the filled temporary file tfd (tmp in
 * dfd) durable, renames it over name and fills *out (when not NULL).  On
 * failure the temporary file is gone.
 */
int ds_publish(struct dirstore *ds, int dfd, int tfd, const char *tmp,
	       const char *name, const char *if_version,
	       struct volfs_store_attr *out);

/*
 * What most ops do first: waits as the knobs say (ds_enter), checks path,
 * refuses the root with root_rc, and opens path's parent beneath the root
 * with flags (ds_parent); the parent's descriptor, or -errno.
 */
int ds_parent_of(struct dirstore *ds, const char *path, int64_t deadline,
		 int flags, int root_rc, const char **name);

#endif /* VOLFS_DIRSTORE_INT_H */
