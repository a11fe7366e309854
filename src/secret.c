/* SPDX-License-Identifier: MIT */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include "volfs/secret.h"
#include "volfs/util.h"

#define SEC_NONCE_LEN 12
#define SEC_TAG_LEN 16
/* Bound on a plaintext value: options are short strings. */
#define SEC_VALUE_MAX (64 * 1024)

#ifdef HAVE_SANITIZERS
/* LeakSanitizer looks for leaks at exit by tracing the process's own
 * threads, which a process that is not dumpable does not allow. */
static void sec_dumpable_at_exit(void)
{
	prctl(PR_SET_DUMPABLE, 1, 0, 0, 0);
}
#endif

/*
 * A process that holds a secret's plaintext leaves no core dump, and its
 * /proc/PID files (mem, environ, maps) belong to root, so that neither
 * hands the secret to whoever reads them.  Asked of every process that
 * seals or opens one; it stays so for the process's life.
 */
static void sec_no_dump(void)
{
	static int done;

	if (__atomic_exchange_n(&done, 1, __ATOMIC_RELAXED))
		return;
	if (prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) < 0) {
		volfs_log(VOLFS_LOG_WARNING,
			  "cannot keep secrets out of core dumps "
			  "(PR_SET_DUMPABLE): %s",
			  strerror(errno));
		return;
	}
#ifdef HAVE_SANITIZERS
	atexit(sec_dumpable_at_exit);
#endif
}

static int sec_random(unsigned char *buf, size_t len)
{
	size_t got = 0;

	if (RAND_bytes(buf, (int)len) == 1)
		return 0;
	/* The kernel's generator when OpenSSL's cannot be seeded. */
	while (got < len) {
		ssize_t n = getrandom(buf + got, len - got, 0);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		got += (size_t)n;
	}
	return 0;
}

/* Reads exactly len bytes from fd; -EIO when the file is shorter. */
static int sec_read_all(int fd, unsigned char *buf, size_t len)
{
	size_t got = 0;

	while (got < len) {
		ssize_t n = read(fd, buf + got, len - got);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (n == 0)
			return -EIO;
		got += (size_t)n;
	}
	return 0;
}

static int sec_write_all(int fd, const unsigned char *buf, size_t len)
{
	size_t done = 0;

	while (done < len) {
		ssize_t n = write(fd, buf + done, len - done);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		done += (size_t)n;
	}
	return 0;
}

/* Reads the key from an existing key file, refusing one that is unsafe. */
static int sec_key_read(struct volfs_secret_key *k, struct volfs_err *err)
{
	const char *path = k->path;
	struct stat st;
	int fd, rc;

	/* O_NONBLOCK: a FIFO put there must not hang us. */
	fd = open(path,
		  O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NOCTTY | O_NONBLOCK);
	if (fd < 0) {
		rc = -errno;
		if (rc == -ENOENT)
			return volfs_err_set(err, rc,
					     "the key file %s does not exist",
					     path);
		if (rc == -ELOOP)
			return volfs_err_set(err, -EPERM,
					     "refusing the key file %s: it is "
					     "a symbolic link; put the key "
					     "file itself there (mode 0600)",
					     path);
		return volfs_err_set(err, rc, "cannot open the key file %s: %s",
				     path, strerror(-rc));
	}
	if (fstat(fd, &st) < 0) {
		rc = -errno;
		volfs_err_set(err, rc, "cannot read the key file %s: %s", path,
			      strerror(-rc));
		goto out;
	}
	if (!S_ISREG(st.st_mode)) {
		rc = volfs_err_set(err, -EINVAL,
				   "refusing the key file %s: it is not a "
				   "regular file; move it away and restore "
				   "the key file from a backup",
				   path);
		goto out;
	}
	if (st.st_uid != geteuid()) {
		rc = volfs_err_set(err, -EPERM,
				   "refusing the key file %s: it belongs to "
				   "uid %u, not to uid %u that runs volfs; if "
				   "it is the right key, chown it to uid %u",
				   path, (unsigned)st.st_uid,
				   (unsigned)geteuid(), (unsigned)geteuid());
		goto out;
	}
	if ((st.st_mode & 07777) != 0600) {
		rc = volfs_err_set(err, -EPERM,
				   "refusing the key file %s: its mode is "
				   "%04o, not 0600; if it is the right key, "
				   "run 'chmod 600 %s' (and treat the secrets "
				   "of its volumes as seen by whoever could "
				   "read it)",
				   path, (unsigned)(st.st_mode & 07777), path);
		goto out;
	}
	if (st.st_size != VOLFS_SECRET_KEY_LEN) {
		rc = volfs_err_set(err, -EINVAL,
				   "refusing the key file %s: it holds %lld "
				   "bytes, not %d; restore the key file from "
				   "a backup (volfs makes a new one only when "
				   "there is none)",
				   path, (long long)st.st_size,
				   VOLFS_SECRET_KEY_LEN);
		goto out;
	}
	rc = sec_read_all(fd, k->key, sizeof(k->key));
	if (rc < 0)
		volfs_err_set(err, rc, "cannot read the key file %s: %s", path,
			      strerror(-rc));
out:
	close(fd);
	return rc;
}

/*
 * Makes the key file.  The key is written to a temporary file that link()
 * then puts in place: link() fails if the name exists, so the file appears
 * only whole, and a process that loses the race reads the winner's key.
 */
static int sec_key_make(struct volfs_secret_key *k, const char *root,
			struct volfs_err *err)
{
	char *tmp = NULL;
	int fd, dfd, rc;

	if (asprintf(&tmp, "%s/.%s.XXXXXX", root, VOLFS_SECRET_KEY_FILE) < 0)
		return volfs_err_set(err, -ENOMEM,
				     "cannot make the key file %s: %s",
				     k->path, strerror(ENOMEM));
	fd = mkostemp(tmp, O_CLOEXEC);
	if (fd < 0) {
		rc = -errno;
		volfs_err_set(err, rc, "cannot make the key file %s: %s",
			      k->path, strerror(-rc));
		goto out_free;
	}
	rc = sec_random(k->key, sizeof(k->key));
	if (rc < 0) {
		volfs_err_set(err, rc,
			      "cannot make the key file %s: no random "
			      "bytes: %s",
			      k->path, strerror(-rc));
		goto out_unlink;
	}
	if (fchmod(fd, 0600) < 0 ||
	    (rc = sec_write_all(fd, k->key, sizeof(k->key))) < 0 ||
	    fsync(fd) < 0) {
		rc = rc < 0 ? rc : -errno;
		volfs_err_set(err, rc, "cannot write the key file %s: %s", tmp,
			      strerror(-rc));
		goto out_unlink;
	}
	if (link(tmp, k->path) < 0) {
		rc = -errno;
		if (rc == -EEXIST) {
			/* Another process made it first: use its key. */
			rc = sec_key_read(k, err);
		} else {
			volfs_err_set(err, rc,
				      "cannot make the key file %s: %s",
				      k->path, strerror(-rc));
		}
		goto out_unlink;
	}
	dfd = open(root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd >= 0) {
		fsync(dfd);
		close(dfd);
	}
	volfs_log(VOLFS_LOG_NOTICE,
		  "made the key file %s for secret options; back it up with "
		  "the catalog",
		  k->path);
	rc = 0;
out_unlink:
	close(fd);
	unlink(tmp);
out_free:
	free(tmp);
	return rc;
}

int volfs_secret_key_load(const char *root, int create,
			  struct volfs_secret_key **out, struct volfs_err *err)
{
	struct volfs_secret_key *k;
	int rc;

	k = calloc(1, sizeof(*k));
	if (!k ||
	    asprintf(&k->path, "%s/%s", root, VOLFS_SECRET_KEY_FILE) < 0) {
		free(k);
		return volfs_err_set(err, -ENOMEM,
				     "cannot load the key file: %s",
				     strerror(ENOMEM));
	}
	rc = sec_key_read(k, err);
	if (rc == -ENOENT && create)
		rc = sec_key_make(k, root, err);
	if (rc < 0) {
		volfs_secret_key_free(k);
		return rc;
	}
	*out = k;
	return 0;
}

void volfs_secret_key_free(struct volfs_secret_key *k)
{
	if (!k)
		return;
	OPENSSL_cleanse(k->key, sizeof(k->key));
	free(k->path);
	free(k);
}

int volfs_secret_is_sealed(const char *value)
{
	return strncmp(value, VOLFS_SECRET_PREFIX,
		       strlen(VOLFS_SECRET_PREFIX)) == 0;
}

void volfs_secret_free(char *s)
{
	if (!s)
		return;
	OPENSSL_cleanse(s, strlen(s));
	free(s);
}

/* The additional authenticated data: "volfs-secret\0VOLUME\0KEY". */
static char *sec_aad(const char *volume, const char *key, size_t *len)
{
	static const char tag[] = "volfs-secret";
	size_t vl = strlen(volume), kl = strlen(key);
	char *aad;

	*len = sizeof(tag) + vl + 1 + kl;
	aad = malloc(*len);
	if (!aad)
		return NULL;
	memcpy(aad, tag, sizeof(tag));
	memcpy(aad + sizeof(tag), volume, vl + 1);
	memcpy(aad + sizeof(tag) + vl + 1, key, kl);
	return aad;
}

/*
 * AES-256-GCM of in (len bytes) into out (len bytes) with tag (16 bytes):
 * sealing when enc, else opening, where a tag that does not match is
 * -EBADMSG.  Other failures are -EIO.
 */
static int sec_gcm(int enc, const unsigned char *key,
		   const unsigned char *nonce, const char *aad, size_t aadlen,
		   const unsigned char *in, size_t len, unsigned char *out,
		   unsigned char *tag)
{
	const EVP_CIPHER *cipher = EVP_aes_256_gcm();
	EVP_CIPHER_CTX *ctx;
	int n, rc = -EIO;

	ctx = EVP_CIPHER_CTX_new();
	if (!ctx)
		return -ENOMEM;
	if (EVP_CipherInit_ex(ctx, cipher, NULL, NULL, NULL, enc) != 1 ||
	    EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_IVLEN, SEC_NONCE_LEN,
				NULL) != 1 ||
	    EVP_CipherInit_ex(ctx, NULL, NULL, key, nonce, enc) != 1 ||
	    EVP_CipherUpdate(ctx, NULL, &n, (const unsigned char *)aad,
			     (int)aadlen) != 1 ||
	    (len > 0 && EVP_CipherUpdate(ctx, out, &n, in, (int)len) != 1))
		goto out;
	if (!enc && EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_TAG, SEC_TAG_LEN,
					tag) != 1)
		goto out;
	if (EVP_CipherFinal_ex(ctx, out + len, &n) != 1) {
		rc = enc ? -EIO : -EBADMSG;
		goto out;
	}
	if (enc && EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_GET_TAG, SEC_TAG_LEN,
				       tag) != 1)
		goto out;
	rc = 0;
out:
	EVP_CIPHER_CTX_free(ctx);
	return rc;
}

int volfs_secret_seal(const struct volfs_secret_key *k, const char *volume,
		      const char *key, const char *plain, char **out,
		      struct volfs_err *err)
{
	size_t plen = strlen(plain), blen, aadlen, plen_prefix;
	unsigned char *buf = NULL;
	char *aad = NULL, *text = NULL;
	int rc;

	if (plen > SEC_VALUE_MAX)
		return volfs_err_set(err, -EINVAL,
				     "option '%s' of volume '%s' is longer "
				     "than %d bytes: give a shorter value",
				     key, volume, SEC_VALUE_MAX);
	blen = SEC_NONCE_LEN + plen + SEC_TAG_LEN;
	plen_prefix = strlen(VOLFS_SECRET_PREFIX);
	buf = malloc(blen);
	aad = sec_aad(volume, key, &aadlen);
	text = malloc(plen_prefix + 4 * ((blen + 2) / 3) + 1);
	if (!buf || !aad || !text) {
		rc = volfs_err_set(err, -ENOMEM,
				   "cannot encrypt option '%s' of volume "
				   "'%s': %s",
				   key, volume, strerror(ENOMEM));
		goto err;
	}
	rc = sec_random(buf, SEC_NONCE_LEN);
	if (rc == 0)
		rc = sec_gcm(1, k->key, buf, aad, aadlen,
			     (const unsigned char *)plain, plen,
			     buf + SEC_NONCE_LEN, buf + SEC_NONCE_LEN + plen);
	if (rc < 0) {
		volfs_err_set(err, rc,
			      "cannot encrypt option '%s' of volume '%s': "
			      "OpenSSL's AES-256-GCM failed (%s)",
			      key, volume, strerror(-rc));
		goto err;
	}
	memcpy(text, VOLFS_SECRET_PREFIX, plen_prefix);
	EVP_EncodeBlock((unsigned char *)text + plen_prefix, buf, (int)blen);
	free(buf);
	free(aad);
	*out = text;
	return 0;

err:
	free(buf);
	free(aad);
	free(text);
	return rc;
}

static int sec_damaged(const char *volume, const char *key,
		       struct volfs_err *err)
{
	return volfs_err_set(err, -EBADMSG,
			     "cannot decrypt option '%s' of volume '%s': its "
			     "stored value is damaged (not a sealed value of "
			     "this volfs); remove the volume with 'volfs rm "
			     "-f %s' and create it again",
			     key, volume, volume);
}

/* Decodes base64 text (no line breaks) into a newly allocated *out. */
static int sec_unbase64(const char *text, unsigned char **out, size_t *len)
{
	size_t tlen = strlen(text), pad = 0;
	unsigned char *buf, *again;
	int n;

	if (tlen == 0 || tlen % 4 != 0 ||
	    strspn(text, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
			 "0123456789+/=") != tlen)
		return -EBADMSG;
	while (pad < 2 && text[tlen - 1 - pad] == '=')
		pad++;
	if (strchr(text, '=') != text + tlen - pad && pad > 0)
		return -EBADMSG;
	if (pad == 0 && strchr(text, '='))
		return -EBADMSG;
	buf = malloc(tlen / 4 * 3 + 1);
	if (!buf)
		return -ENOMEM;
	n = EVP_DecodeBlock(buf, (const unsigned char *)text, (int)tlen);
	if (n < 0 || (size_t)n < pad)
		goto err;
	/* Only the one canonical spelling: the unused bits before '=' are
	 * zero, so a changed character always changes the bytes. */
	again = malloc(tlen + 1);
	if (!again) {
		free(buf);
		return -ENOMEM;
	}
	EVP_EncodeBlock(again, buf, n - (int)pad);
	n -= (int)pad;
	if (strcmp((char *)again, text) != 0) {
		free(again);
		goto err;
	}
	free(again);
	*out = buf;
	*len = (size_t)n;
	return 0;

err:
	free(buf);
	return -EBADMSG;
}

int volfs_secret_open(const struct volfs_secret_key *k, const char *volume,
		      const char *key, const char *sealed, char **out,
		      struct volfs_err *err)
{
	unsigned char *buf = NULL;
	size_t blen, plen, aadlen;
	char *aad = NULL, *plain = NULL;
	int rc;

	if (!volfs_secret_is_sealed(sealed))
		return sec_damaged(volume, key, err);
	rc = sec_unbase64(sealed + strlen(VOLFS_SECRET_PREFIX), &buf, &blen);
	if (rc == -ENOMEM)
		goto err_nomem;
	if (rc < 0 || blen < SEC_NONCE_LEN + SEC_TAG_LEN) {
		rc = sec_damaged(volume, key, err);
		goto out;
	}
	plen = blen - SEC_NONCE_LEN - SEC_TAG_LEN;
	plain = malloc(plen + 1);
	aad = sec_aad(volume, key, &aadlen);
	if (!plain || !aad)
		goto err_nomem;
	rc = sec_gcm(0, k->key, buf, aad, aadlen, buf + SEC_NONCE_LEN, plen,
		     (unsigned char *)plain, buf + SEC_NONCE_LEN + plen);
	if (rc == -EBADMSG) {
		volfs_err_set(err, rc,
			      "cannot decrypt option '%s' of volume '%s': the "
			      "key file %s does not match the key it was "
			      "encrypted with (or the stored value was "
			      "altered); restore the key file that was in "
			      "place when the volume was created, or remove "
			      "the volume with 'volfs rm -f %s' and create it "
			      "again",
			      key, volume, k->path, volume);
		goto err_plain;
	}
	if (rc < 0) {
		volfs_err_set(err, rc,
			      "cannot decrypt option '%s' of volume '%s': "
			      "OpenSSL's AES-256-GCM failed (%s)",
			      key, volume, strerror(-rc));
		goto err_plain;
	}
	plain[plen] = '\0';
	if (strlen(plain) != plen) {
		rc = sec_damaged(volume, key, err);
		goto err_plain;
	}
	*out = plain;
	plain = NULL;
	goto out;

err_nomem:
	rc = volfs_err_set(err, -ENOMEM,
			   "cannot decrypt option '%s' of volume '%s': %s", key,
			   volume, strerror(ENOMEM));
err_plain:
	if (plain) {
		OPENSSL_cleanse(plain, plen);
		free(plain);
	}
out:
	free(aad);
	free(buf);
	return rc;
}

int volfs_opts_seal(const char *root, const struct volfs_backend *be,
		    const char *volume, const struct volfs_kv *opts, size_t n,
		    struct volfs_kvlist *out, struct volfs_err *err)
{
	struct volfs_secret_key *k = NULL;
	char *sealed;
	int rc = 0;

	for (size_t i = 0; i < n && rc >= 0; i++) {
		if (!volfs_opt_is_secret(be, opts[i].key)) {
			rc = volfs_kvlist_set(out, opts[i].key, opts[i].value);
			if (rc < 0)
				volfs_err_set(err, rc,
					      "cannot create volume '%s': %s",
					      volume, strerror(-rc));
			continue;
		}
		sec_no_dump();
		if (!k) {
			rc = volfs_secret_key_load(root, 1, &k, err);
			if (rc < 0)
				break;
		}
		rc = volfs_secret_seal(k, volume, opts[i].key, opts[i].value,
				       &sealed, err);
		if (rc < 0)
			break;
		rc = volfs_kvlist_set(out, opts[i].key, sealed);
		free(sealed);
		if (rc < 0)
			volfs_err_set(err, rc, "cannot create volume '%s': %s",
				      volume, strerror(-rc));
	}
	volfs_secret_key_free(k);
	if (rc < 0)
		volfs_kvlist_release(out);
	return rc < 0 ? rc : 0;
}

int volfs_opts_unseal(const char *root, const struct volfs_backend *be,
		      const char *volume, const struct volfs_kv *opts, size_t n,
		      struct volfs_kvlist *out, struct volfs_err *err)
{
	struct volfs_secret_key *k = NULL;
	struct volfs_err tmp = { "" };
	char *plain;
	int rc = 0;

	for (size_t i = 0; i < n && rc >= 0; i++) {
		const char *key = opts[i].key, *value = opts[i].value;

		if (volfs_opt_is_secret(be, key))
			sec_no_dump();
		if (!volfs_opt_is_secret(be, key) ||
		    !volfs_secret_is_sealed(value)) {
			if (volfs_opt_is_secret(be, key))
				volfs_log(VOLFS_LOG_WARNING,
					  "option '%s' of volume '%s' is "
					  "stored unencrypted (by an older "
					  "volfs); create the volume again to "
					  "store it encrypted",
					  key, volume);
			rc = volfs_kvlist_set(out, key, value);
			if (rc < 0)
				volfs_err_set(err, rc,
					      "cannot decrypt the options of "
					      "volume '%s': %s",
					      volume, strerror(-rc));
			continue;
		}
		if (!k) {
			rc = volfs_secret_key_load(root, 0, &k, &tmp);
			if (rc == -ENOENT) {
				volfs_err_set(err, rc,
					      "cannot decrypt option '%s' of "
					      "volume '%s': %s; restore it "
					      "from a backup (a new key cannot "
					      "decrypt what the old one "
					      "encrypted), or remove the "
					      "volume with 'volfs rm -f %s' "
					      "and create it again",
					      key, volume, tmp.msg, volume);
				break;
			}
			if (rc < 0) {
				volfs_err_set(err, rc,
					      "cannot decrypt option '%s' of "
					      "volume '%s': %s",
					      key, volume, tmp.msg);
				break;
			}
		}
		rc = volfs_secret_open(k, volume, key, value, &plain, err);
		if (rc < 0)
			break;
		rc = volfs_kvlist_set(out, key, plain);
		volfs_secret_free(plain);
		if (rc < 0)
			volfs_err_set(err, rc,
				      "cannot decrypt the options of volume "
				      "'%s': %s",
				      volume, strerror(-rc));
	}
	volfs_secret_key_free(k);
	if (rc < 0)
		volfs_kvlist_release(out);
	return rc < 0 ? rc : 0;
}
