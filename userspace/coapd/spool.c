// SPDX-License-Identifier: GPL-2.0
/*
 * coapd's on-disk queue (spool.h). Layout of the directory:
 *   lock                  flock()ed while a process has the spool open
 *   head                  struct spool_head: every record <= seq is acknowledged
 *   seg-<16 hex>          records, the name being the first record's seq
 * A record is struct spool_rec followed by len bytes of data; its crc covers
 * seq, len and the data, so a torn append or a flipped bit is seen.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <syslog.h>
#include <unistd.h>

#include "spool.h"

#define SPOOL_REC_MAGIC		0x31505343U	/* "CSP1" */
#define SPOOL_HEAD_MAGIC	0x48505343U	/* "CSPH" */
#define SEG_PREFIX		"seg-"
#define SEG_NAME_LEN		(sizeof(SEG_PREFIX) - 1 + 16)

struct spool_rec {
	uint32_t magic;
	uint32_t len;
	uint64_t seq;
	uint32_t crc;
	uint32_t zero;
};

struct spool_head {
	uint32_t magic;
	uint32_t zero;
	uint64_t seq;
	uint32_t crc;
	uint32_t zero2;
};

_Static_assert(sizeof(struct spool_rec) == SPOOL_RECORD_OVERHEAD,
	       "record header size");

struct seg {
	uint64_t base;		/* seq of its first record (its name) */
	uint64_t last;		/* seq of its last record; base - 1 if none */
	uint64_t size;		/* bytes */
};

/* A record handed out and not yet acknowledged. */
struct sent {
	uint64_t seq;
	uint64_t seg_base;
	uint64_t off;
	bool acked;
};

struct spool {
	int dirfd, lockfd, headfd;
	int tailfd;		/* the last segment, open for appends; or -1 */
	int readfd;		/* the segment being read; or -1 */
	uint64_t read_base;
	struct spool_params p;
	uint64_t seg_bytes;	/* roll to a new segment past this size */
	uint64_t used;
	uint64_t head;		/* every record <= head is acknowledged */
	uint64_t next_seq;
	uint64_t pending;
	struct seg *segs;	/* sorted by base */
	size_t nsegs, segs_cap;
	uint64_t cur_base, cur_off;	/* where spool_next reads */
	struct sent *sent;	/* in seq order */
	size_t nsent, sent_cap;
};

#define spool_log(s, prio, ...) do {					\
	if ((s)->p.log)							\
		(s)->p.log(prio, __VA_ARGS__);				\
} while (0)

/* CRC-32C (Castagnoli), bitwise: records are small and few per second. */
static uint32_t crc32c(uint32_t crc, const void *data, size_t len)
{
	const uint8_t *p = data;
	int k;

	crc = ~crc;
	while (len--) {
		crc ^= *p++;
		for (k = 0; k < 8; k++)
			crc = crc >> 1 ^ (0x82f63b78U & -(crc & 1));
	}
	return ~crc;
}

static uint32_t rec_crc(const struct spool_rec *r, const void *data)
{
	uint32_t crc = crc32c(0, &r->seq, sizeof(r->seq));

	crc = crc32c(crc, &r->len, sizeof(r->len));
	return crc32c(crc, data, r->len);
}

static void seg_name(uint64_t base, char name[SEG_NAME_LEN + 1])
{
	snprintf(name, SEG_NAME_LEN + 1, SEG_PREFIX "%016" PRIx64, base);
}

/* "seg-" and exactly 16 lower-case hex digits; anything else is not ours. */
static bool seg_parse(const char *name, uint64_t *base)
{
	const char *h = name + sizeof(SEG_PREFIX) - 1;
	int i;

	if (strlen(name) != SEG_NAME_LEN || strncmp(name, SEG_PREFIX, 4))
		return false;
	*base = 0;
	for (i = 0; i < 16; i++) {
		if (h[i] >= '0' && h[i] <= '9')
			*base = *base << 4 | (uint64_t)(h[i] - '0');
		else if (h[i] >= 'a' && h[i] <= 'f')
			*base = *base << 4 | (uint64_t)(h[i] - 'a' + 10);
		else
			return false;
	}
	return *base != 0;
}

static int full_pread(int fd, void *buf, size_t len, uint64_t off)
{
	size_t done = 0;
	ssize_t n;

	while (done < len) {
		n = pread(fd, (char *)buf + done, len - done, off + done);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		if (n == 0)
			return -ENODATA;
		done += n;
	}
	return 0;
}

static int head_write(struct spool *s)
{
	struct spool_head h = {
		.magic = SPOOL_HEAD_MAGIC, .seq = s->head,
	};

	ssize_t n;

	h.crc = crc32c(0, &h.seq, sizeof(h.seq));
	/* One small write at offset 0: a sector, replaced whole. */
	n = pwrite(s->headfd, &h, sizeof(h), 0);
	if (n < 0)
		return -errno;
	return n == sizeof(h) ? 0 : -EIO;
}

static void head_read(struct spool *s)
{
	struct spool_head h = { 0 };
	ssize_t n;

	s->head = 0;
	n = pread(s->headfd, &h, sizeof(h), 0);
	if (n == 0)
		return;		/* a new spool */
	if (n != sizeof(h) || h.magic != SPOOL_HEAD_MAGIC || h.zero || h.zero2 ||
	    h.crc != crc32c(0, &h.seq, sizeof(h.seq))) {
		/* Everything on disk is handed out again: duplicates, no loss. */
		spool_log(s, LOG_WARNING,
			  "spool %s: head file is not valid: replaying every record",
			  s->p.dir);
		return;
	}
	s->head = h.seq;
}

static int seg_add(struct spool *s, uint64_t base)
{
	struct seg *n;

	if (s->nsegs == s->segs_cap) {
		size_t cap = s->segs_cap ? 2 * s->segs_cap : 8;

		n = realloc(s->segs, cap * sizeof(*n));
		if (!n)
			return -ENOMEM;
		s->segs = n;
		s->segs_cap = cap;
	}
	s->segs[s->nsegs++] = (struct seg){ .base = base, .last = base - 1 };
	return 0;
}

static int seg_cmp(const void *a, const void *b)
{
	const struct seg *x = a, *y = b;

	return x->base < y->base ? -1 : x->base > y->base;
}

static void seg_unlink(struct spool *s, size_t i)
{
	char name[SEG_NAME_LEN + 1];

	seg_name(s->segs[i].base, name);
	if (unlinkat(s->dirfd, name, 0) && errno != ENOENT)
		spool_log(s, LOG_ERR, "spool %s: unlink %s: %s", s->p.dir, name,
			  strerror(errno));
	if (s->readfd >= 0 && s->read_base == s->segs[i].base) {
		close(s->readfd);
		s->readfd = -1;
	}
	if (i == s->nsegs - 1 && s->tailfd >= 0) {
		close(s->tailfd);
		s->tailfd = -1;
	}
	s->used -= s->segs[i].size;
	memmove(&s->segs[i], &s->segs[i + 1],
		(s->nsegs - i - 1) * sizeof(*s->segs));
	s->nsegs--;
}

/*
 * Read segment i's records, keep its valid prefix: a record must have our
 * magic, a length within bounds, the next seq and a matching crc. What
 * follows the first bad one is cut off (a torn append after a crash, or
 * damage: said so in the log).
 */
static int seg_scan(struct spool *s, size_t i, uint64_t min_seq)
{
	struct seg *g = &s->segs[i];
	char name[SEG_NAME_LEN + 1];
	struct spool_rec r;
	uint64_t off = 0, expect = g->base;
	const char *why = NULL;
	struct stat st;
	void *data;
	int fd, err;

	seg_name(g->base, name);
	/* A directory, symlink or FIFO by our name is not ours (-EINVAL). */
	fd = openat(s->dirfd, name, O_RDWR | O_NOFOLLOW | O_NONBLOCK |
		    O_CLOEXEC);
	if (fd < 0)
		return errno == EISDIR || errno == ELOOP ? -EINVAL : -errno;
	if (fstat(fd, &st) || !S_ISREG(st.st_mode)) {
		close(fd);
		return -EINVAL;
	}
	data = malloc(SPOOL_RECORD_MAX);
	if (!data) {
		close(fd);
		return -ENOMEM;
	}
	if (g->base < min_seq)
		why = "overlaps the previous segment";
	while (!why && off < (uint64_t)st.st_size) {
		if ((uint64_t)st.st_size - off < sizeof(r)) {
			why = "a torn record header";
			break;
		}
		err = full_pread(fd, &r, sizeof(r), off);
		if (err) {
			why = "unreadable";
			break;
		}
		if (r.magic != SPOOL_REC_MAGIC || r.zero) {
			why = "not a record";
		} else if (r.len > SPOOL_RECORD_MAX) {
			why = "a record longer than allowed";
		} else if (r.seq != expect) {
			why = "a record out of sequence";
		} else if ((uint64_t)st.st_size - off - sizeof(r) < r.len) {
			why = "a torn record";
		} else if (full_pread(fd, data, r.len, off + sizeof(r)) ||
			   r.crc != rec_crc(&r, data)) {
			why = "a record whose checksum does not match";
		}
		if (why)
			break;
		off += sizeof(r) + r.len;
		g->last = expect++;
		if (g->last > s->head)
			s->pending++;
	}
	free(data);
	if (why) {
		spool_log(s, LOG_ERR,
			  "spool %s: %s at offset %" PRIu64 ": %s; cutting off %" PRIu64 " bytes",
			  s->p.dir, name, off, why, (uint64_t)st.st_size - off);
		if (ftruncate(fd, off)) {
			err = -errno;
			close(fd);
			return err;
		}
	}
	close(fd);
	g->size = off;
	return 0;
}

static int dir_scan(struct spool *s)
{
	uint64_t base, min_seq = 1;
	struct dirent *e;
	size_t i;
	DIR *dir;
	int fd, err = 0;

	fd = dup(s->dirfd);
	if (fd < 0)
		return -errno;
	dir = fdopendir(fd);
	if (!dir) {
		close(fd);
		return -errno;
	}
	while ((e = readdir(dir))) {
		if (seg_parse(e->d_name, &base)) {
			err = seg_add(s, base);
			if (err)
				break;
		}
	}
	closedir(dir);
	if (err)
		return err;
	if (s->nsegs)
		qsort(s->segs, s->nsegs, sizeof(*s->segs), seg_cmp);
	for (i = 0; i < s->nsegs; ) {
		err = seg_scan(s, i, min_seq);
		if (err == -EINVAL) {
			/* Not a regular file: not ours to read or remove. */
			spool_log(s, LOG_WARNING, "spool %s: ignoring a segment name that is not a file",
				  s->p.dir);
			memmove(&s->segs[i], &s->segs[i + 1],
				(s->nsegs - i - 1) * sizeof(*s->segs));
			s->nsegs--;
			continue;
		}
		if (err)
			return err;
		s->used += s->segs[i].size;
		if (s->segs[i].last >= s->segs[i].base)
			min_seq = s->segs[i].last + 1;
		/* Nothing left to hand out in it: acknowledged, or empty. */
		if (s->segs[i].last <= s->head || !s->segs[i].size) {
			seg_unlink(s, i);
			continue;
		}
		i++;
	}
	s->next_seq = min_seq > s->head + 1 ? min_seq : s->head + 1;
	return 0;
}

/* The first position after head: where reading starts. */
static int cursor_init(struct spool *s)
{
	struct spool_rec r;
	int fd, err;
	char name[SEG_NAME_LEN + 1];
	uint64_t off = 0;

	s->cur_base = s->nsegs ? s->segs[0].base : s->next_seq;
	s->cur_off = 0;
	if (!s->nsegs || s->segs[0].base > s->head)
		return 0;
	seg_name(s->segs[0].base, name);
	fd = openat(s->dirfd, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	/* Valid records only (seg_scan cut the rest): skip the acknowledged. */
	for (;;) {
		err = full_pread(fd, &r, sizeof(r), off);
		if (err || r.seq > s->head)
			break;
		off += sizeof(r) + r.len;
	}
	close(fd);
	s->cur_off = off;
	return err == -ENODATA ? 0 : err;
}

int spool_open(const struct spool_params *p, struct spool **sp)
{
	struct spool *s;
	int err;

	if (p->max_bytes < 2 * (SPOOL_RECORD_MAX + SPOOL_RECORD_OVERHEAD))
		return -EINVAL;
	s = calloc(1, sizeof(*s));
	if (!s)
		return -ENOMEM;
	s->p = *p;
	s->dirfd = s->lockfd = s->headfd = s->tailfd = s->readfd = -1;
	/* Small segments free space early; a few records per segment at least. */
	s->seg_bytes = p->max_bytes / 8;
	if (s->seg_bytes > 4 << 20)
		s->seg_bytes = 4 << 20;
	if (mkdir(p->dir, 0700) && errno != EEXIST)
		goto err_errno;
	s->dirfd = open(p->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (s->dirfd < 0)
		goto err_errno;
	s->lockfd = openat(s->dirfd, "lock", O_RDWR | O_CREAT | O_NOFOLLOW |
			   O_CLOEXEC, 0600);
	if (s->lockfd < 0)
		goto err_errno;
	if (flock(s->lockfd, LOCK_EX | LOCK_NB))
		goto err_errno;
	s->headfd = openat(s->dirfd, "head", O_RDWR | O_CREAT | O_NOFOLLOW |
			   O_CLOEXEC, 0600);
	if (s->headfd < 0)
		goto err_errno;
	head_read(s);
	err = dir_scan(s);
	if (!err)
		err = cursor_init(s);
	if (err)
		goto err;
	*sp = s;
	return 0;

err_errno:
	err = -errno;
err:
	spool_close(s);
	return err;
}

void spool_close(struct spool *s)
{
	if (!s)
		return;
	if (s->tailfd >= 0)
		close(s->tailfd);
	if (s->readfd >= 0)
		close(s->readfd);
	if (s->headfd >= 0)
		close(s->headfd);
	if (s->lockfd >= 0)
		close(s->lockfd);
	if (s->dirfd >= 0)
		close(s->dirfd);
	free(s->segs);
	free(s->sent);
	free(s);
}

bool spool_room(const struct spool *s, size_t len)
{
	return len <= SPOOL_RECORD_MAX &&
	       s->used + SPOOL_RECORD_OVERHEAD + len <= s->p.max_bytes;
}

/* A new last segment, named after the next seq. */
static int seg_roll(struct spool *s)
{
	char name[SEG_NAME_LEN + 1];
	int err;

	if (s->tailfd >= 0) {
		close(s->tailfd);
		s->tailfd = -1;
	}
	err = seg_add(s, s->next_seq);
	if (err)
		return err;
	seg_name(s->next_seq, name);
	s->tailfd = openat(s->dirfd, name, O_WRONLY | O_CREAT | O_EXCL |
			   O_APPEND | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (s->tailfd < 0 || (s->p.sync && fsync(s->dirfd))) {
		err = -errno;
		if (s->tailfd >= 0) {
			close(s->tailfd);
			s->tailfd = -1;
			unlinkat(s->dirfd, name, 0);
		}
		s->nsegs--;
		return err;
	}
	return 0;
}

int spool_append(struct spool *s, const void *data, size_t len)
{
	struct spool_rec r = {
		.magic = SPOOL_REC_MAGIC, .len = len, .seq = s->next_seq,
	};
	struct iovec iov[2] = {
		{ .iov_base = &r, .iov_len = sizeof(r) },
		{ .iov_base = (void *)data, .iov_len = len },
	};
	struct seg *g;
	ssize_t n;
	int err;

	if (len > SPOOL_RECORD_MAX)
		return -EMSGSIZE;
	if (!spool_room(s, len))
		return -ENOSPC;
	r.crc = rec_crc(&r, data);
	/* Reopened after a restart: the last segment takes appends again. */
	if (s->tailfd < 0 && s->nsegs &&
	    s->segs[s->nsegs - 1].size < s->seg_bytes) {
		char name[SEG_NAME_LEN + 1];

		seg_name(s->segs[s->nsegs - 1].base, name);
		s->tailfd = openat(s->dirfd, name, O_WRONLY | O_APPEND |
				   O_NOFOLLOW | O_CLOEXEC);
		if (s->tailfd < 0)
			return -errno;
	}
	if (s->tailfd < 0 || s->segs[s->nsegs - 1].size >= s->seg_bytes) {
		err = seg_roll(s);
		if (err)
			return err;
	}
	g = &s->segs[s->nsegs - 1];
	do
		n = writev(s->tailfd, iov, 2);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		err = -errno;
	else if (n != (ssize_t)(sizeof(r) + len))
		err = -ENOSPC;	/* a short write: the file system is full */
	else if (s->p.sync && fdatasync(s->tailfd))
		err = -errno;
	else
		err = 0;
	if (err) {
		/* No half record may stay behind a later good one. */
		if (ftruncate(s->tailfd, g->size))
			spool_log(s, LOG_ERR, "spool %s: truncate after a failed append: %s",
				  s->p.dir, strerror(errno));
		return err;
	}
	g->size += n;
	g->last = s->next_seq++;
	s->used += n;
	s->pending++;
	return 0;
}

static int read_fd(struct spool *s, uint64_t base)
{
	char name[SEG_NAME_LEN + 1];

	if (s->readfd >= 0 && s->read_base == base)
		return s->readfd;
	if (s->readfd >= 0)
		close(s->readfd);
	seg_name(base, name);
	s->readfd = openat(s->dirfd, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	s->read_base = base;
	return s->readfd < 0 ? -errno : s->readfd;
}

static int sent_push(struct spool *s, uint64_t seq, uint64_t base,
		     uint64_t off)
{
	struct sent *n;

	if (s->nsent == s->sent_cap) {
		size_t cap = s->sent_cap ? 2 * s->sent_cap : 32;

		n = realloc(s->sent, cap * sizeof(*n));
		if (!n)
			return -ENOMEM;
		s->sent = n;
		s->sent_cap = cap;
	}
	s->sent[s->nsent++] = (struct sent){
		.seq = seq, .seg_base = base, .off = off,
	};
	return 0;
}

int spool_next(struct spool *s, void *buf, size_t cap, size_t *len,
	       uint64_t *seq)
{
	struct spool_rec r;
	struct seg *g = NULL;
	size_t i;
	int fd, err;

	/* The cursor's segment, or the next one if it is gone. */
	for (i = 0; i < s->nsegs; i++) {
		if (s->segs[i].base < s->cur_base)
			continue;
		if (s->segs[i].base > s->cur_base) {
			s->cur_base = s->segs[i].base;
			s->cur_off = 0;
		}
		if (s->cur_off < s->segs[i].size) {
			g = &s->segs[i];
			break;
		}
		if (i + 1 < s->nsegs) {
			s->cur_base = s->segs[i + 1].base;
			s->cur_off = 0;
		}
	}
	if (!g)
		return -ENOENT;
	fd = read_fd(s, g->base);
	if (fd < 0)
		return fd;
	err = full_pread(fd, &r, sizeof(r), s->cur_off);
	if (err)
		return err == -ENODATA ? -EIO : err;
	/* Validated when written or scanned; a change since is damage. */
	if (r.magic != SPOOL_REC_MAGIC || r.len > SPOOL_RECORD_MAX ||
	    s->cur_off + sizeof(r) + r.len > g->size) {
		spool_log(s, LOG_ERR, "spool %s: a record changed on disk: skipping the rest of its segment",
			  s->p.dir);
		s->cur_off = g->size;
		return -EIO;
	}
	if (r.len > cap)
		return -ENOBUFS;
	err = full_pread(fd, buf, r.len, s->cur_off + sizeof(r));
	if (!err && r.crc != rec_crc(&r, buf))
		err = -EIO;
	if (!err)
		err = sent_push(s, r.seq, g->base, s->cur_off);
	if (err == -ENOMEM)
		return err;
	s->cur_off += sizeof(r) + r.len;
	if (err) {
		spool_log(s, LOG_ERR, "spool %s: record %" PRIu64 " does not read back: skipped",
			  s->p.dir, r.seq);
		return -EIO;
	}
	*len = r.len;
	*seq = r.seq;
	return 0;
}

void spool_rewind(struct spool *s)
{
	size_t i;

	if (!s->nsent)
		return;
	/* Acknowledged behind a gap: handed out (and counted) again. */
	for (i = 0; i < s->nsent; i++)
		s->pending += s->sent[i].acked;
	s->cur_base = s->sent[0].seg_base;
	s->cur_off = s->sent[0].off;
	s->nsent = 0;
}

/* Remove the segments whose records are all acknowledged. */
static void segs_free(struct spool *s)
{
	while (s->nsegs && s->segs[0].last <= s->head &&
	       /* the last segment only when nothing more is in it to read */
	       (s->nsegs > 1 || s->segs[0].last + 1 == s->next_seq))
		seg_unlink(s, 0);
}

int spool_ack(struct spool *s, uint64_t seq)
{
	uint64_t old = s->head;
	size_t i, k;
	int err;

	for (i = 0; i < s->nsent && s->sent[i].seq != seq; i++)
		;
	if (i == s->nsent || s->sent[i].acked)
		return -ENOENT;
	s->sent[i].acked = true;
	s->pending--;
	for (k = 0; k < s->nsent && s->sent[k].acked; k++)
		s->head = s->sent[k].seq;
	if (!k)
		return 0;
	memmove(s->sent, s->sent + k, (s->nsent - k) * sizeof(*s->sent));
	s->nsent -= k;
	if (s->head != old) {
		err = head_write(s);
		if (err)
			/* A restart would hand these out again: no loss. */
			spool_log(s, LOG_ERR, "spool %s: head: %s", s->p.dir,
				  strerror(-err));
		segs_free(s);
	}
	return 0;
}

uint64_t spool_pending(const struct spool *s)
{
	return s->pending;
}

uint64_t spool_used(const struct spool *s)
{
	return s->used;
}

size_t spool_outstanding(const struct spool *s)
{
	return s->nsent;
}
