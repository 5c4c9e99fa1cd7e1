/*
 * journal.h - an append-only log of checksummed records in a directory:
 * one shard's journal (DESIGN.md "When a part fails": the journal is the
 * outbox).  It knows bytes and record types, nothing of incidents; what
 * the records mean is daemon/store's business.
 *
 * On disk, in dir:
 *   <16 hex digits>.jnl   segments; the name is the position (byte offset
 *                         from the journal's first byte ever) of its first
 *                         record, so positions only grow and a segment's
 *                         records are at name + offset in the file;
 *   <16 hex>.snp          the latest snapshot: a blob (an engine's state)
 *                         covering every record before that position;
 *   <name>.pos            a reader's saved position (one per sink).
 * A record is a 12-byte header, then its payload:
 *   u32 length of the payload | u32 CRC-32C of type and payload |
 *   u8 type | 3 zero bytes | payload.
 * On open the records after the snapshot are checked: the first one that is
 * short, too long or fails its checksum (a write torn by a crash or power
 * loss, a flipped bit) ends the journal; the file is truncated there and
 * later segments removed, and journal_open() says how much it cut.
 *
 * Threads: one writer (the shard thread) appends, writes and syncs; any
 * number of readers (the publish pump on the loop, restore before start)
 * read up to journal_durable(), which the writer publishes with release
 * order after each sync.  Segment files are added by the writer and
 * removed by journal_trim() under one mutex, the only lock here.
 */
#ifndef TOCSIN_JOURNAL_H
#define TOCSIN_JOURNAL_H

#include <stddef.h>
#include <stdint.h>

#define JOURNAL_HDR		12		/* bytes before a payload */
#define JOURNAL_REC_MAX		(16u << 20)	/* payload bytes, at most */
#define JOURNAL_SEGMENT		(64u << 20)	/* default segment size */

struct journal;
struct journal_reader;
struct journal_rec;

struct journal_config {
	const char	*dir;		/* created (one level) if missing */
	uint64_t	 segment_bytes;	/* a segment this big is closed
					 * (synced) and a new one begun;
					 * 0: JOURNAL_SEGMENT */
	/*
	 * Optional (NULL: none).  journal_open() hands every record it
	 * checks (those from the snapshot on) to checked(), in order, right
	 * after checking it, so a restore reads the journal once.  A record
	 * handed over is whole and its checksum matches; the check stops at
	 * the first that is not (the tail is cut there), so nothing after
	 * it is handed over.  j is the journal being opened: only
	 * journal_snapshot_pos() and journal_snapshot_use() may be called
	 * on it meanwhile.  rec is valid during the call.
	 */
	void		(*checked)(void *arg, struct journal *j,
			    const struct journal_rec *rec);
	void		*checked_arg;
};

/* What journal_open() found. */
struct journal_info {
	uint64_t	 start;		/* first position still on disk */
	uint64_t	 end;		/* end of the last whole record */
	uint64_t	 snapshot;	/* position the snapshot covers, or 0 */
	uint64_t	 cut;		/* bytes cut off the tail (torn/corrupt) */
	char		 why[160];	/* why, when cut > 0 */
	int		 refused;	/* the errno of a disk that refuses
					 * writes (read-only, full): what is
					 * there was read and the journal is
					 * open; journal_flush() fails until
					 * the disk takes writes.  0: writable */
};

/* One record, as a reader or the writer's undo sees it. */
struct journal_rec {
	uint64_t	 pos;		/* where it starts */
	uint64_t	 next;		/* where the next one starts */
	uint8_t		 type;
	const void	*p;		/* payload: valid until the next read */
	uint32_t	 n;		/* payload bytes */
};

/*
 * Whether errno e says the disk will not take a write now but may later: a
 * read-only mount, a full disk or quota, a file or directory the process
 * may not write (docs/journal.md "A disk that refuses").
 */
int	 journal_refusal(int e);

/* CRC-32C (Castagnoli), SSE4.2 when the CPU has it; for tests too. */
uint32_t journal_crc32c(uint32_t crc, const void *p, size_t n);

/*
 * Opens (creating if needed) the journal in c->dir, checks and repairs its
 * tail, and fills *info.  A disk that refuses writes (read-only, full, not
 * permitted) does not fail it: what the directory holds is read, and
 * info->refused says why writes will wait; the cut of a torn tail, the
 * lock's pid and the segment to write are then made by the first
 * journal_flush() the disk takes.  Returns 0, or -errno with a reason in
 * err (the directory cannot be read, a segment cannot be opened, another
 * process holds the lock: -EBUSY).
 */
int	 journal_open(struct journal **jp, const struct journal_config *c,
	    struct journal_info *info, char *err, size_t errlen);
/* Writes nothing more; frees it.  Readers must be freed first. */
void	 journal_close(struct journal *j);

/* ---- writer (one thread) ---- */

/* The position the next appended record gets. */
uint64_t journal_tell(const struct journal *j);
/*
 * Appends a record to the write buffer (nothing reaches the file before
 * journal_flush()).  Returns its position; n must be <= JOURNAL_REC_MAX.
 */
uint64_t journal_append(struct journal *j, uint8_t type, const void *p,
	    size_t n);
/* Forgets the buffered records at and after pos (pos >= what is written). */
void	 journal_undo(struct journal *j, uint64_t pos);
/* Bytes appended and not yet written. */
size_t	 journal_buffered(const struct journal *j);
/*
 * Writes the buffer to the segment (rolling to a new one past the segment
 * size), then, if sync, fdatasync()s it and publishes the new durable end
 * to readers.  A failed or short write (disk full, read-only, EIO) cuts the
 * file back to its last whole record and keeps the buffer for the next
 * call: returns -errno and nothing is lost.  0 on success.
 */
int	 journal_flush(struct journal *j, int sync);
/* End of what is written (not necessarily synced); writer thread. */
uint64_t journal_written(const struct journal *j);
/*
 * Writes a snapshot blob covering every record before journal_tell() (the
 * buffer is flushed and synced first: -errno if that fails), syncs it,
 * renames it in place and removes the older one.  0 or -errno.
 */
int	 journal_snapshot(struct journal *j, const void *p, size_t n);

/* ---- any thread ---- */

/* End of the records readers may see (written and synced). */
uint64_t journal_durable(const struct journal *j);
/* Position of the latest snapshot, or 0 for none. */
uint64_t journal_snapshot_pos(const struct journal *j);
/*
 * Hands the latest snapshot's payload to use (p, n: valid during the
 * call), then checks its checksum.  0, or use's negative answer (its
 * reason in err), -ENOENT if there is none, -EIO if the checksum fails
 * (whatever use did: the caller drops it) or the disk fails a read.
 * Mapped, not copied: a copy into the heap was a quarter of a
 * 100,000-incident restore, and used before it is checked, a cold read
 * overlaps the decode (docs/benchmarks.md, "restart"); use must take
 * bytes of any kind (corr_engine_load() is fuzzed).  A snapshot file
 * never changes once written (a new one is written aside and renamed over
 * it), so the bytes use saw are the bytes checked.
 */
int	 journal_snapshot_use(struct journal *j, int (*use)(void *arg,
	    const void *p, size_t n, char *err, size_t errlen), void *arg,
	    char *err, size_t errlen);
/* First position still on disk. */
uint64_t journal_start(const struct journal *j);
/*
 * Removes every segment whose records all lie before both keep and the
 * snapshot position (never the one being written).  Returns the bytes
 * removed.
 */
uint64_t journal_trim(struct journal *j, uint64_t keep);
/* Bytes of the segments on disk. */
uint64_t journal_disk_bytes(const struct journal *j);

/* A reader's saved position: 0 or -ENOENT. */
int	 journal_pos_get(struct journal *j, const char *name, uint64_t *pos);
/* Saves it (write, rename): 0 or -errno. */
int	 journal_pos_put(struct journal *j, const char *name, uint64_t pos);

/* ---- readers ---- */

/*
 * A reader from pos (a record's start; below journal_start(): from there).
 */
struct journal_reader *journal_reader_new(struct journal *j, uint64_t pos);
void	 journal_reader_free(struct journal_reader *r);
/* Moves to pos (a record's start). */
void	 journal_reader_seek(struct journal_reader *r, uint64_t pos);
/* Where the next read starts. */
uint64_t journal_reader_tell(const struct journal_reader *r);
/*
 * End of the records journal_open() checked: every record from the
 * snapshot's position (or journal_start()) to here passed its checksum
 * when the journal was opened (it is info.end; it never changes after).
 */
uint64_t journal_checked(const struct journal *j);
/*
 * For the one reader that runs right after journal_open() (restore): the
 * records it reads that lie wholly in what journal_open() checked (from the
 * snapshot's position to journal_checked()) are not checksummed a second
 * time; their length is still bounded and their header's zero bytes
 * checked, and every record after journal_checked() is checked as always.
 * A file changed under the daemon between open and this read is then not
 * noticed by this reader; the publishers' readers check every record.
 */
void	 journal_reader_trust_checked(struct journal_reader *r);
/*
 * Reads the next record below limit (journal_durable() when limit is 0):
 * 1 and *rec, 0 when there is none yet, -EBADMSG for a record that
 * fails its checksum or header (a file changed under us), or -errno of a
 * read that failed.  The reader stays where it was; after -EBADMSG,
 * rec->pos is the bad record's position and rec->next where reading may
 * go on past it (journal_reader_seek): the next record when its header's
 * length is one a record may have, else the next segment, or limit when
 * there is none yet (nothing in between can be found).  rec->p is NULL.
 */
int	 journal_read(struct journal_reader *r, uint64_t limit,
	    struct journal_rec *rec);

#endif
