/* SPDX-License-Identifier: MIT */
#include "config.h"

#include <dirent.h>
#include <dlfcn.h>
#include <errno.h>
#include <stddef.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "volfs/loader.h"
#include "volfs/options.h"

#ifndef VOLFS_BACKEND_DIR_DEFAULT
#define VOLFS_BACKEND_DIR_DEFAULT "/usr/local/lib/volfs/backends"
#endif

/* Modules stay loaded for the life of the process: tables handed out
 * point into them. */
struct loader_entry {
	char name[64];
	const struct volfs_backend *be;
};

static pthread_mutex_t loader_lock = PTHREAD_MUTEX_INITIALIZER;
static struct loader_entry loader_cache[32];
static size_t loader_count;

const char *volfs_backend_dir(void)
{
	const char *env = getenv("VOLFS_BACKEND_DIR");

	return env && *env ? env : VOLFS_BACKEND_DIR_DEFAULT;
}

static int loader_name_ok(const char *name)
{
	size_t len = strlen(name);

	if (len == 0 || len >= sizeof(loader_cache[0].name))
		return 0;
	for (const char *p = name; *p; p++)
		if (!((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') ||
		      *p == '_'))
			return 0;
	return 1;
}

/* Tables of modules built against an older header, completed to the size
 * this core knows (members past the module's size absent). */
static struct loader_grown {
	const struct volfs_backend *orig;
	struct volfs_backend *full;
} loader_grown[32];
static size_t loader_ngrown;
static pthread_mutex_t loader_grown_lock = PTHREAD_MUTEX_INITIALIZER;

int volfs_backend_table(const struct volfs_backend *be, const char *what,
			const struct volfs_backend **out, struct volfs_err *err)
{
	struct volfs_backend *full;

	if (!be)
		return volfs_err_set(err, -EPROTO,
				     "%s returned no backend table", what);
	if (be->abi_version != VOLFS_BACKEND_ABI)
		return volfs_err_set(
			err, -EPROTO,
			"backend module %s was built for backend ABI %d, this "
			"volfs uses ABI %d: install the module that came with "
			"this volfs",
			what, be->abi_version, VOLFS_BACKEND_ABI);
	if (be->size > sizeof(*be))
		return volfs_err_set(
			err, -EPROTO,
			"backend module %s was built for a newer volfs (its "
			"table has %zu bytes, this volfs knows %zu): upgrade "
			"volfs, or install the module that came with it",
			what, be->size, sizeof(*be));
	if (be->size < offsetof(struct volfs_backend, statfs))
		return volfs_err_set(err, -EPROTO,
				     "backend module %s has a table of %zu "
				     "bytes, too small for backend ABI %d: "
				     "rebuild the module",
				     what, be->size, VOLFS_BACKEND_ABI);
	if (be->size == sizeof(*be)) {
		*out = be;
		return 0;
	}
	pthread_mutex_lock(&loader_grown_lock);
	for (size_t i = 0; i < loader_ngrown; i++) {
		if (loader_grown[i].orig == be) {
			pthread_mutex_unlock(&loader_grown_lock);
			*out = loader_grown[i].full;
			return 0;
		}
	}
	full = calloc(1, sizeof(*full));
	if (!full || loader_ngrown == sizeof(loader_grown) /
						 sizeof(loader_grown[0])) {
		pthread_mutex_unlock(&loader_grown_lock);
		free(full);
		return volfs_err_set(err, -ENOMEM,
				     "cannot load backend module %s: out of "
				     "memory",
				     what);
	}
	memcpy(full, be, be->size);
	full->size = sizeof(*full);
	loader_grown[loader_ngrown].orig = be;
	loader_grown[loader_ngrown].full = full;
	loader_ngrown++;
	pthread_mutex_unlock(&loader_grown_lock);
	*out = full;
	return 0;
}

static int loader_open(const char *name, const struct volfs_backend **out,
		       struct volfs_err *err)
{
	const char *dir = volfs_backend_dir();
	const struct volfs_backend *be;
	volfs_backend_entry_fn entry;
	char path[4096], sym[128];
	void *handle;
	int rc;

	snprintf(path, sizeof(path), "%s/%s.so", dir, name);
	if (access(path, F_OK) < 0)
		return volfs_err_set(
			err, -ENOENT,
			"no backend '%s': %s does not exist (install the "
			"module, or set VOLFS_BACKEND_DIR to the directory "
			"that holds it)",
			name, path);
	handle = dlopen(path, RTLD_NOW | RTLD_LOCAL);
	if (!handle)
		return volfs_err_set(err, -EPROTO,
				     "cannot load backend '%s' from %s: %s",
				     name, path, dlerror());
	snprintf(sym, sizeof(sym), "volfs_backend_%s", name);
	*(void **)&entry = dlsym(handle, sym);
	if (!entry) {
		dlclose(handle);
		return volfs_err_set(err, -EPROTO,
				     "%s is not a volfs backend: it does not "
				     "export %s()",
				     path, sym);
	}
	rc = volfs_backend_table(entry(), path, &be, err);
	if (rc < 0) {
		dlclose(handle);
		return rc;
	}
	for (const struct volfs_optdesc *d = be->options; d && d->key; d++) {
		if (strcmp(d->key, VOLFS_OPT_CREDENTIALS) == 0) {
			dlclose(handle);
			return volfs_err_set(err, -EPROTO,
					     "backend module %s declares an "
					     "option '%s', which is the core's "
					     "own: rename the option",
					     path, d->key);
		}
	}
	if (!be->name || strcmp(be->name, name) != 0) {
		dlclose(handle);
		return volfs_err_set(err, -EPROTO,
				     "backend module %s calls itself '%s', "
				     "not '%s'",
				     path, be->name ? be->name : "(null)",
				     name);
	}
	*out = be;
	return 0;
}

int volfs_backend_load(const char *name, const struct volfs_backend **out,
		       struct volfs_err *err)
{
	int rc;

	if (!name || !loader_name_ok(name))
		return volfs_err_set(err, -EINVAL,
				     "invalid backend name '%s': backend names "
				     "are lowercase letters, digits and '_'",
				     name ? name : "");
	pthread_mutex_lock(&loader_lock);
	for (size_t i = 0; i < loader_count; i++) {
		if (strcmp(loader_cache[i].name, name) == 0) {
			*out = loader_cache[i].be;
			pthread_mutex_unlock(&loader_lock);
			return 0;
		}
	}
	rc = loader_open(name, out, err);
	if (rc == 0 && loader_count < sizeof(loader_cache) /
						  sizeof(loader_cache[0])) {
		snprintf(loader_cache[loader_count].name,
			 sizeof(loader_cache[0].name), "%s", name);
		loader_cache[loader_count].be = *out;
		loader_count++;
	}
	pthread_mutex_unlock(&loader_lock);
	return rc;
}

static int loader_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

int volfs_backend_foreach(void (*fn)(const struct volfs_backend *be,
				     void *ctx),
			  void *ctx)
{
	char *names[64];
	size_t n = 0;
	struct dirent *de;
	DIR *d;

	d = opendir(volfs_backend_dir());
	if (!d)
		return -errno;
	while ((de = readdir(d)) && n < 64) {
		size_t len = strlen(de->d_name);

		if (len <= 3 || strcmp(de->d_name + len - 3, ".so") != 0)
			continue;
		names[n] = strndup(de->d_name, len - 3);
		if (names[n])
			n++;
	}
	closedir(d);
	qsort(names, n, sizeof(names[0]), loader_cmp);
	int found = 0;
	for (size_t i = 0; i < n; i++) {
		const struct volfs_backend *be;

		if (loader_name_ok(names[i]) &&
		    volfs_backend_load(names[i], &be, NULL) == 0) {
			fn(be, ctx);
			found++;
		}
		free(names[i]);
	}
	return found;
}
