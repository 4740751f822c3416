/* SPDX-License-Identifier: GPL-2.0 */
/*
 * A bounded on-disk queue of records in a directory (coapd's MQTT spool).
 *
 * Records are appended to segment files "seg-<first seq, 16 hex>" and handed
 * out in order; a record stays on disk until it is acknowledged. The oldest
 * unacknowledged position is kept in the file "head", so that a restarted
 * process hands out what was not acknowledged (a record acknowledged just
 * before a crash may be handed out again: at least once, never lost).
 * A segment is removed once every record in it is acknowledged; the bytes
 * of the segment files count against the bound.
 *
 * The files are in host byte order: a spool is not portable across machines
 * of another endianness. Whatever is in the directory is read as hostile:
 * a torn or corrupted tail is cut off at the last valid record (and said so
 * through the log callback), names that are not ours are left alone.
 * One process at a time: the directory is locked (flock on "lock").
 */
#ifndef COAPD_SPOOL_H
#define COAPD_SPOOL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* The largest record: a generic netlink message from the module fits. */
#define SPOOL_RECORD_MAX	(64 * 1024)
/* Per record on disk, besides its data. */
#define SPOOL_RECORD_OVERHEAD	24
/* The smallest bound accepted from the operator: a few largest records. */
#define SPOOL_MIN_BYTES		(256 * 1024)

struct spool;

struct spool_params {
	const char *dir;	/* created (0700) when missing */
	uint64_t max_bytes;	/* the bound of the segment files' sizes */
	bool sync;		/* fdatasync every append (and new names) */
	/* Recovery notes and errors; may be NULL. prio as syslog's. */
	void (*log)(int prio, const char *fmt, ...)
		__attribute__((format(printf, 2, 3)));
};

/* 0 and *sp, or a negative errno (-EWOULDBLOCK: another process has it). */
int spool_open(const struct spool_params *p, struct spool **sp);
void spool_close(struct spool *s);

/* Whether a record of len data bytes would fit now. */
bool spool_room(const struct spool *s, size_t len);

/*
 * Append a record (durable on return when sync). 0; -ENOSPC when the bound
 * would be passed; -EMSGSIZE above SPOOL_RECORD_MAX; another negative errno
 * when the file system failed (nothing of the record remains then).
 */
int spool_append(struct spool *s, const void *data, size_t len);

/*
 * The next record not yet handed out since the last rewind, into buf: 0
 * with *len and *seq; -ENOENT when there is none; -EIO when it no longer
 * reads back as written (it is then skipped); -ENOMEM.
 */
int spool_next(struct spool *s, void *buf, size_t cap, size_t *len,
	       uint64_t *seq);

/* Every handed-out record not yet acknowledged will be handed out again. */
void spool_rewind(struct spool *s);

/*
 * Record seq (handed out, in any order) is acknowledged. 0, or -ENOENT when
 * seq is not outstanding. Space is freed segment by segment.
 */
int spool_ack(struct spool *s, uint64_t seq);

/* Records not acknowledged, and the bytes the segment files take. */
uint64_t spool_pending(const struct spool *s);
uint64_t spool_used(const struct spool *s);
/* Handed out, not yet acknowledged. */
size_t spool_outstanding(const struct spool *s);

#endif /* COAPD_SPOOL_H */
