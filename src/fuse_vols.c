/* SPDX-License-Identifier: MIT */
/*
 * The FUSE glue's volumes: how the kernel may cache each, and under serve
 * the table of open volumes, keyed on each volume's name and identity, from
 * a root lookup that resolves a name to the volume it stands for now (and
 * opens it once, however many lookups ask at the same time) to the close
 * once the kernel has forgotten every node of it.
 */
#include "config.h"

#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>

#include "fuse_int.h"

/*
 * Kernel caching from what the backend says of the volume.  When only this
 * process changes the data (every mount of a volume shares one instance),
 * the kernel may keep names, attributes and file pages as long as it likes;
 * when others may change it behind volfs (a host directory, a share), it
 * must ask again soon.
 */
static void fs_vol_setup(struct volfs_fs *fs, struct fs_vol *v,
			 struct volfs_open_volume *ov)
{
	double dflt;
	int ours;

	v->ov = ov;
	v->be = ov->be;
	v->state = ov->state;
	v->caps = ov->be->volume_caps ? ov->be->volume_caps(ov->state)
				      : ov->be->caps;
	ours = !(v->caps & VOLFS_CAP_EXTERNAL_CHANGES);
	dflt = ours ? FS_TIMEOUT_OWNED : FS_TIMEOUT_SHARED;
	v->entry_tmo = fs->cfg.entry_timeout >= 0 ? fs->cfg.entry_timeout
						  : dflt;
	v->attr_tmo = fs->cfg.attr_timeout >= 0 ? fs->cfg.attr_timeout : dflt;
	/* Names others may create must not be hidden by a cached miss. */
	v->neg_tmo = ours ? v->entry_tmo : 0;
	v->keep_cache = ours;
	v->used = time(NULL);
}

struct fs_vol *fs_vol_new(struct volfs_fs *fs, struct volfs_open_volume *ov,
			  const char *name)
{
	struct fs_vol *v = calloc(1, sizeof(*v));

	if (!v)
		return NULL;
	if (name) {
		v->name = strdup(name);
		if (!v->name) {
			free(v);
			return NULL;
		}
	}
	fs_vol_setup(fs, v, ov);
	return v;
}

static size_t fs_vhash_of(const char *name, size_t nbuckets)
{
	uint64_t h = 1469598103934665603ull;

	for (; *name; name++)
		h = (h ^ (unsigned char)*name) * 1099511628211ull;
	return (size_t)(h % nbuckets);
}

/*
 * The open (or opening), not removed volume called name whose identity is
 * id, as read from the source after vol_seq was seq.  Any other volume of
 * that name known before then is marked removed on the way: the name
 * stands for a new volume now.  One whose identity was taken from the
 * source since is at least as new as id: it is the answer, and a volume of
 * identity id is then the old one.  vols_lock held.
 */
static struct fs_vol *fs_vol_find(struct volfs_fs *fs, const char *name,
				  const char *id, unsigned long seq)
{
	struct fs_vol *v, *found = NULL, *newer = NULL;

	if (!fs->nbuckets)
		return NULL;
	for (v = fs->vhash[fs_vhash_of(name, fs->nbuckets)]; v; v = v->hnext) {
		if (v->gone || strcmp(v->name, name) != 0)
			continue;
		if (id && strcmp(v->id, id) == 0)
			found = v;
		else if (v->seq > seq)
			newer = v;
		else
			v->gone = 1;
	}
	if (newer && found && found->seq <= seq)
		found->gone = 1;
	return newer && (!found || found->seq <= seq) ? newer : found;
}

/* A new value of vol_seq, for a volume whose identity was just read. */
static unsigned long fs_vol_seq(struct volfs_fs *fs)
{
	return __atomic_add_fetch(&fs->vol_seq, 1, __ATOMIC_SEQ_CST);
}

/* Adds v to the list and the hash, growing it; vols_lock held. */
static void fs_vol_link(struct volfs_fs *fs, struct fs_vol *v)
{
	if (fs->nvols + 1 > 2 * fs->nbuckets) {
		size_t nb = fs->nbuckets ? 4 * fs->nbuckets : 64;
		struct fs_vol **nh = calloc(nb, sizeof(*nh));

		if (nh) {
			for (struct fs_vol *o = fs->vols; o; o = o->next) {
				size_t b = fs_vhash_of(o->name, nb);

				o->hnext = nh[b];
				nh[b] = o;
			}
			free(fs->vhash);
			fs->vhash = nh;
			fs->nbuckets = nb;
		}
	}
	v->seq = fs_vol_seq(fs);
	v->next = fs->vols;
	fs->vols = v;
	if (fs->nbuckets) {
		size_t b = fs_vhash_of(v->name, fs->nbuckets);

		v->hnext = fs->vhash[b];
		fs->vhash[b] = v;
	}
	fs->nvols++;
}

/* Takes v out of the list and the hash; vols_lock held. */
static void fs_vol_unlink(struct volfs_fs *fs, struct fs_vol *v)
{
	struct fs_vol **pp;

	for (pp = &fs->vols; *pp && *pp != v; pp = &(*pp)->next)
		;
	if (!*pp)
		return;
	*pp = v->next;
	if (fs->nbuckets) {
		pp = &fs->vhash[fs_vhash_of(v->name, fs->nbuckets)];
		while (*pp && *pp != v)
			pp = &(*pp)->hnext;
		if (*pp)
			*pp = v->hnext;
	}
	fs->nvols--;
}

static void fs_vol_close(struct fs_vol *v)
{
	if (v->ov)
		volfs_log(VOLFS_LOG_INFO, "closing volume '%s'", v->name);
	volfs_volume_close(v->ov);
	free(v->name);
	free(v->id);
	free(v);
}

/*
 * Whether v may be closed now (vols_lock held): nothing uses it (no pin,
 * no node the kernel holds), and closing loses nothing: its data outlives
 * the process, or it was removed.  A ram volume the kernel forgot (its
 * name invalidated, a cold dentry) keeps its data for the next lookup.
 */
static int fs_vol_closable(struct volfs_fs *fs, struct fs_vol *v)
{
	if (v->pins || v->opening || volfs_nodes_held(fs->nodes, &v->nv))
		return 0;
	return !v->ov || v->gone || (v->caps & VOLFS_CAP_PERSISTENT);
}

/*
 * Closes volumes whose last node the kernel forgot.  A root lookup may
 * have opened it again in between, or be using it: it then stays.
 */
void fs_vol_forgotten(struct volfs_fs *fs, struct fs_vol *gone)
{
	if (!gone || gone == fs->single)
		return;
	pthread_mutex_lock(&fs->vols_lock);
	if (!fs_vol_closable(fs, gone)) {
		pthread_mutex_unlock(&fs->vols_lock);
		return;
	}
	fs_vol_unlink(fs, gone);
	pthread_mutex_unlock(&fs->vols_lock);
	fs_vol_close(gone);
}

void fs_vols_reap(struct volfs_fs *fs)
{
	struct fs_vol *close = NULL, *v, *next;

	pthread_mutex_lock(&fs->vols_lock);
	for (v = fs->vols; v; v = next) {
		next = v->next;
		if (!v->gone || !fs_vol_closable(fs, v))
			continue;
		fs_vol_unlink(fs, v);
		v->next = close;
		close = v;
	}
	pthread_mutex_unlock(&fs->vols_lock);
	for (v = close; v; v = next) {
		next = v->next;
		fs_vol_close(v);
	}
}

/*
 * Whether the source may not have changed since generation gen: its watch
 * descriptor has nothing to read and the janitor read nothing since.
 * Without a watch descriptor, anything may have changed.
 */
static int fs_src_unchanged(struct volfs_fs *fs, unsigned long gen)
{
	int fd = fs->src->watch ? fs->src->watch(fs->src->ctx) : -1;
	struct pollfd p = { .fd = fd, .events = POLLIN };

	return fd >= 0 && poll(&p, 1, 0) == 0 &&
	       __atomic_load_n(&fs->src_gen, __ATOMIC_SEQ_CST) == gen;
}

/*
 * The open volume called name whose identity the source confirmed at
 * generation gen (any generation if any), pinned; NULL if there is none.
 */
static struct fs_vol *fs_vol_known(struct volfs_fs *fs, const char *name,
				   unsigned long gen, int any)
{
	struct fs_vol *v = NULL;

	pthread_mutex_lock(&fs->vols_lock);
	if (fs->nbuckets)
		v = fs->vhash[fs_vhash_of(name, fs->nbuckets)];
	for (; v; v = v->hnext)
		if (!v->gone && v->ov && (any || v->gen == gen) &&
		    strcmp(v->name, name) == 0)
			break;
	if (v)
		v->pins++;
	pthread_mutex_unlock(&fs->vols_lock);
	return v;
}

/*
 * Lets go of a volume pinned by fs_vol_get(): closes it when nothing refers
 * to it any more (its lookup failed, its open failed, and the kernel forgot
 * the rest), as fs_vol_forgotten() would have.
 */
static void fs_vol_unpin(struct volfs_fs *fs, struct fs_vol *v)
{
	int drop;

	pthread_mutex_lock(&fs->vols_lock);
	v->pins--;
	drop = fs_vol_closable(fs, v);
	if (drop)
		fs_vol_unlink(fs, v);
	pthread_mutex_unlock(&fs->vols_lock);
	if (drop)
		fs_vol_close(v);
}

/* Opens the placeholder v, pinned by this thread, and wakes the lookups
 * waiting for it: 0, or the open's -errno. */
static int fs_vol_open(struct volfs_fs *fs, struct fs_vol *v)
{
	struct volfs_open_volume *ov = NULL;
	struct volfs_err err = { "" };
	char *id = NULL;
	int rc;

	rc = fs->src->open(fs->src->ctx, v->name, &ov, &err);
	if (rc < 0 && rc != -ENOENT)
		volfs_log(VOLFS_LOG_ERR, "%s", err.msg);
	/* Created again since the lookup read its identity: this is the
	 * newer volume, and known as such. */
	if (rc == 0 && ov->row.uuid && strcmp(ov->row.uuid, v->id) != 0) {
		id = strdup(ov->row.uuid);
		if (!id) {
			volfs_volume_close(ov);
			rc = -ENOMEM;
		}
	}
	pthread_mutex_lock(&fs->vols_lock);
	if (rc == 0) {
		fs_vol_setup(fs, v, ov);
		if (id) {
			free(v->id);
			v->id = id;
			v->seq = fs_vol_seq(fs);
		}
		volfs_log(VOLFS_LOG_INFO, "opened volume '%s'", v->name);
	} else {
		/* Not to be found again; freed by whoever unpins it last. */
		v->gone = 1;
		v->open_rc = rc;
	}
	v->opening = 0;
	pthread_cond_broadcast(&fs->vols_cond);
	pthread_mutex_unlock(&fs->vols_lock);
	return rc;
}

/*
 * The open volume called name whose identity is id, pinned.  The first
 * lookup of a volume opens it, outside vols_lock (opening may wait on a
 * server for long); lookups of the same volume meanwhile wait for that one
 * opening, and those of other volumes do not wait at all.
 */
static int fs_vol_get(struct volfs_fs *fs, const char *name, const char *id,
		      unsigned long seq,
		      unsigned long gen, struct fs_vol **out)
{
	struct fs_vol *v;
	int rc = 0;

	pthread_mutex_lock(&fs->vols_lock);
	v = fs_vol_find(fs, name, id, seq);
	if (v) {
		v->pins++;
		v->gen = gen;
		while (v->opening)
			pthread_cond_wait(&fs->vols_cond, &fs->vols_lock);
		rc = v->ov ? 0 : v->open_rc;
		pthread_mutex_unlock(&fs->vols_lock);
		if (rc < 0) {
			fs_vol_unpin(fs, v);
			return rc;
		}
		*out = v;
		return 0;
	}
	v = calloc(1, sizeof(*v));
	if (v) {
		v->name = strdup(name);
		v->id = strdup(id);
	}
	if (!v || !v->name || !v->id) {
		pthread_mutex_unlock(&fs->vols_lock);
		if (v)
			fs_vol_close(v);
		return -ENOMEM;
	}
	v->opening = 1;
	v->pins = 1;
	v->gen = gen;
	fs_vol_link(fs, v);
	pthread_mutex_unlock(&fs->vols_lock);
	rc = fs_vol_open(fs, v);
	if (rc < 0) {
		fs_vol_unpin(fs, v);
		return rc;
	}
	*out = v;
	return 0;
}

/*
 * The volume name stands for now, pinned: known without asking when the
 * source has not changed since its identity was confirmed, else by its
 * identity in the source (opened if need be).
 */
static int fs_vol_resolve(struct volfs_fs *fs, const char *name,
			  struct fs_vol **out)
{
	unsigned long gen = __atomic_load_n(&fs->src_gen, __ATOMIC_SEQ_CST);
	unsigned long seq = __atomic_load_n(&fs->vol_seq, __ATOMIC_SEQ_CST);
	char id[VOLFS_FS_ID_MAX];
	int rc;

	if (fs_src_unchanged(fs, gen)) {
		*out = fs_vol_known(fs, name, gen, 0);
		if (*out)
			return 0;
	}
	rc = fs->src->ident(fs->src->ctx, name, id, sizeof(id));
	if (rc == -ENOENT) {
		pthread_mutex_lock(&fs->vols_lock);
		fs_vol_find(fs, name, NULL, seq);
		pthread_mutex_unlock(&fs->vols_lock);
	} else if (rc < 0) {
		/* A catalog that cannot be read now is no reason to pull a
		 * volume from under its users. */
		*out = fs_vol_known(fs, name, 0, 1);
		if (*out)
			return 0;
	}
	if (rc < 0)
		return rc;
	return fs_vol_get(fs, name, id, seq, gen, out);
}

/*
 * Serve: looks up volume name in the root, opening it if it is not open,
 * and fills e, taking one lookup reference on its root node.  The name is
 * resolved to the identity of the volume it stands for now, so a volume
 * removed and created again is a new volume from its first lookup on; and
 * the kernel keeps no entry of it, so that every path through it asks
 * (cheaply, fs_vol_resolve()).
 */
int fs_lookup_volume(struct volfs_fs *fs, const char *name,
		     struct fuse_entry_param *e)
{
	struct fs_vol *v;
	struct fs_at at;
	uint64_t ino;
	int rc;

	memset(e, 0, sizeof(*e));
	if (volfs_name_check(name, NULL) < 0)
		return -ENOENT;
	rc = fs_vol_resolve(fs, name, &v);
	if (rc < 0)
		return rc;

	at.v = v;
	at.node = VOLFS_ROOT_NODE;
	rc = fs_getattr_at(&at, VOLFS_NO_FH, &e->attr);
	if (rc == 0)
		rc = volfs_nodes_add(fs->nodes, &v->nv, VOLFS_ROOT_NODE, &ino);
	if (rc == 0) {
		fs_touch(v);
		e->ino = ino;
		e->entry_timeout = 0;
		e->attr_timeout = v->attr_tmo;
		fs_fix_attr(fs, v, &e->attr, ino);
	}
	fs_vol_unpin(fs, v);
	return rc;
}
