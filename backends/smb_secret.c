/* SPDX-License-Identifier: MIT */
/*
 * The smb backend's credential in memory.  libsmbclient keeps what the
 * credentials callback gives it for as long as a connection lives, and
 * frees its copies without wiping them.  So it is never given the
 * password: it is given the password's NT hash (smbc_setOptionUseNTHash),
 * which NTLM authentication uses and nothing else, and which the backend
 * keeps masked with a random pad in pages no core dump includes.  From
 * open() on, the password's plaintext is nowhere in the daemon's memory,
 * and an Azure Files account key given as password cannot be read back
 * from it.  (The NT hash still logs in over SMB: the mask keeps it out of
 * memory images, and non-dumpable /proc/PID files keep it from other
 * users.)
 */
#include "config.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/random.h>
#include <unistd.h>

#include "volfs/backend.h"
#include "smb_int.h"

/* An NT hash in hex, as libsmbclient takes it. */
#define SMB_NT_HEX 32

static uint32_t smb_rol(uint32_t x, int s)
{
	return (x << s) | (x >> (32 - s));
}

/* MD4 (RFC 1320) of one 64-byte block into st. */
static void smb_md4_block(uint32_t st[4], const unsigned char *p)
{
	static const int s1[4] = { 3, 7, 11, 19 }, s2[4] = { 3, 5, 9, 13 },
			 s3[4] = { 3, 9, 11, 15 };
	static const int k2[16] = { 0, 4, 8,  12, 1, 5, 9,  13,
				    2, 6, 10, 14, 3, 7, 11, 15 };
	static const int k3[16] = { 0, 8, 4,  12, 2, 10, 6,  14,
				    1, 9, 5, 13, 3, 11, 7, 15 };
	uint32_t x[16], a = st[0], b = st[1], c = st[2], d = st[3], t;
	const int *sh;

	for (int i = 0; i < 16; i++)
		x[i] = (uint32_t)p[4 * i] | (uint32_t)p[4 * i + 1] << 8 |
		       (uint32_t)p[4 * i + 2] << 16 |
		       (uint32_t)p[4 * i + 3] << 24;
	/* Each step changes one word; the roles rotate after each. */
	for (int i = 0; i < 48; i++) {
		if (i < 16)
			t = a + ((b & c) | (~b & d)) + x[i];
		else if (i < 32)
			t = a + ((b & c) | (b & d) | (c & d)) + x[k2[i - 16]] +
			    0x5a827999u;
		else
			t = a + (b ^ c ^ d) + x[k3[i - 32]] + 0x6ed9eba1u;
		sh = i < 16 ? s1 : i < 32 ? s2 : s3;
		t = smb_rol(t, sh[i % 4]);
		a = d;
		d = c;
		c = b;
		b = t;
	}
	st[0] += a;
	st[1] += b;
	st[2] += c;
	st[3] += d;
	explicit_bzero(x, sizeof(x));
}

/* MD4 of len bytes at m into out[16]. */
static void smb_md4(const unsigned char *m, size_t len, unsigned char out[16])
{
	uint32_t st[4] = { 0x67452301u, 0xefcdab89u, 0x98badcfeu,
			   0x10325476u };
	unsigned char last[128];
	uint64_t bits = (uint64_t)len * 8;
	size_t rest = len % 64, n;

	for (size_t off = 0; off + 64 <= len; off += 64)
		smb_md4_block(st, m + off);
	memset(last, 0, sizeof(last));
	memcpy(last, m + len - rest, rest);
	last[rest] = 0x80;
	n = rest < 56 ? 64 : 128;
	for (int i = 0; i < 8; i++)
		last[n - 8 + i] = (unsigned char)(bits >> (8 * i));
	for (size_t off = 0; off < n; off += 64)
		smb_md4_block(st, last + off);
	for (int i = 0; i < 16; i++)
		out[i] = (unsigned char)(st[i / 4] >> (8 * (i % 4)));
	explicit_bzero(last, sizeof(last));
	explicit_bzero(st, sizeof(st));
}

/*
 * The code point of the UTF-8 sequence at *p, advancing *p; -1 when it is
 * not valid UTF-8.
 */
static long smb_utf8_next(const unsigned char **p)
{
	const unsigned char *s = *p;
	int more;
	long cp;

	/* How many continuation bytes the first byte announces. */
	if (s[0] < 0x80)
		more = 0;
	else if (s[0] >= 0xc2 && s[0] < 0xe0)
		more = 1;
	else if (s[0] >= 0xe0 && s[0] < 0xf0)
		more = 2;
	else if (s[0] >= 0xf0 && s[0] < 0xf5)
		more = 3;
	else
		return -1;
	cp = more ? s[0] & (0x3f >> more) : s[0];
	for (int i = 1; i <= more; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return -1;
		cp = cp << 6 | (s[i] & 0x3f);
	}
	if ((more == 2 && (cp < 0x800 || (cp >= 0xd800 && cp < 0xe000))) ||
	    (more == 3 && (cp < 0x10000 || cp > 0x10ffff)))
		return -1;
	*p = s + more + 1;
	return cp;
}

/* The NT hash of password (MD4 of its UTF-16LE form) in hex into hex. */
static int smb_nt_hash(const char *password, char hex[SMB_NT_HEX + 1])
{
	static const char digits[] = "0123456789abcdef";
	const unsigned char *p = (const unsigned char *)password;
	size_t len = strlen(password), n = 0;
	unsigned char *u16, hash[16];
	int rc = 0;

	/* At most two UTF-16 units (4 bytes) per input byte. */
	u16 = malloc(4 * len + 1);
	if (!u16)
		return -ENOMEM;
	while (*p) {
		long cp = smb_utf8_next(&p);

		if (cp < 0) {
			rc = -EILSEQ;
			goto out;
		}
		if (cp >= 0x10000) {
			long hi = 0xd800 + ((cp - 0x10000) >> 10);
			long lo = 0xdc00 + ((cp - 0x10000) & 0x3ff);

			u16[n++] = (unsigned char)hi;
			u16[n++] = (unsigned char)(hi >> 8);
			cp = lo;
		}
		u16[n++] = (unsigned char)cp;
		u16[n++] = (unsigned char)(cp >> 8);
	}
	smb_md4(u16, n, hash);
	for (int i = 0; i < 16; i++) {
		hex[2 * i] = digits[hash[i] >> 4];
		hex[2 * i + 1] = digits[hash[i] & 15];
	}
	hex[SMB_NT_HEX] = '\0';
	explicit_bzero(hash, sizeof(hash));
out:
	explicit_bzero(u16, 4 * len + 1);
	free(u16);
	return rc;
}

int smb_secret_keep(struct smb_secret *s, const char *password)
{
	size_t pg = (size_t)sysconf(_SC_PAGESIZE);
	char hex[SMB_NT_HEX + 1];
	unsigned char *page;
	int rc;

	page = mmap(NULL, pg, PROT_READ | PROT_WRITE,
		    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (page == MAP_FAILED)
		return -ENOMEM;
	/* Best effort: a kernel without it still gets the mask. */
	madvise(page, pg, MADV_DONTDUMP);
	rc = smb_nt_hash(password, hex);
	if (rc == 0 && getrandom(page, SMB_NT_HEX, 0) != SMB_NT_HEX)
		rc = -EIO;
	if (rc) {
		munmap(page, pg);
		explicit_bzero(hex, sizeof(hex));
		return rc;
	}
	for (size_t i = 0; i < SMB_NT_HEX; i++)
		page[SMB_NT_HEX + i] = page[i] ^ (unsigned char)hex[i];
	explicit_bzero(hex, sizeof(hex));
	s->page = page;
	s->len = SMB_NT_HEX;
	s->size = pg;
	return 0;
}

void smb_secret_copy(const struct smb_secret *s, char *buf, size_t size)
{
	size_t i;

	if (!size)
		return;
	for (i = 0; i < s->len && i + 1 < size; i++)
		buf[i] = (char)(s->page[i] ^ s->page[s->len + i]);
	buf[i] = '\0';
}

void smb_secret_drop(struct smb_secret *s)
{
	if (!s->page)
		return;
	explicit_bzero(s->page, s->size);
	munmap(s->page, s->size);
	s->page = NULL;
	s->len = s->size = 0;
}
