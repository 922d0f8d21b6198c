/* audit-int.h - the audit log's modules (internal to libpanmail)
 *
 * HOME/audit.log holds one JSON record a line.  Each record names the
 * SHA-256 of the previous line ("prev", a hash chain) and carries an
 * HMAC-SHA256 ("mac") under a key that evolves after every record:
 * K(i+1) = SHA-256 ("panmail audit key evolve" || K(i)).  HOME/audit.key
 * holds "seq N key HEX prev HEX": the key for record N, the next one,
 * and the hash that record must name.  K(1) is shown once when the key
 * is created; with it an auditor recomputes every MAC, while someone
 * who takes the host over later finds only the current key and cannot
 * rewrite earlier records unnoticed.
 *
 * A record's fields come in a fixed order; the line ends in
 * ,"mac":"HEX"} and the MAC covers every byte before that suffix.  The
 * parser accepts only lines that the formatter would write byte for
 * byte (canonical form), so what panaudit shows is exactly what the MAC
 * and the hash chain protect.
 *
 * The modules, each using only those above it in this list:
 *   audit-record   the record format, its lines and canonical parsing
 *   audit-key      the forward-secure key, audit.key, the audit lock
 *   audit-syslog   the syslog mirror of appended records
 *   audit-append   appending under the lock, torn-line recovery, and
 *                  creating the key together with its first record
 *   audit-read     a snapshot of the log, the reader and its filters
 *   audit-verify   the chain, the MACs, audit.key and anchors
 *   audit-report   the summary for an assessor
 *   audit-list     the names of the closed segments
 *   audit-gz       compressed closed segments
 *   audit-tail     the ends of closed segments
 *   audit-segment  rotation, compression and pruning
 */
#ifndef PAN_AUDIT_INT_H
#define PAN_AUDIT_INT_H

#include <sys/types.h>

#include "panmail.h"
#include "json-int.h"
#include "util.h"

#define AUDIT_LOG_FILE "audit.log"
#define AUDIT_KEY_FILE "audit.key"
#define AUDIT_LOCK_FILE "audit.lock"
#define AUDIT_CHECKPOINT_FILE "audit.checkpoint"

/* Bytes of a key, a digest, and their hex forms with NUL.  */
#define AUDIT_KEYLEN 32
#define AUDIT_HEXLEN 65

/* The prev hash of the first record (AUDIT_HEXLEN bytes with its NUL).  */
#define AUDIT_ZERO_HASH \
  "0000000000000000000000000000000000000000000000000000000000000000"
_Static_assert(sizeof AUDIT_ZERO_HASH == AUDIT_HEXLEN,
               "AUDIT_ZERO_HASH is a hash in hex with its NUL");

/* The suffix ,"mac":"<64 hex>"} that ends every record.  */
#define AUDIT_MAC_PREFIX ",\"mac\":\""
#define AUDIT_MAC_SUFFIX_LEN (8 + 64 + 2)


/*
 * audit-record.c: the record format.
 */

/* A parsed record and the storage its pointers refer to, kept from one
 * parse to the next (clear it to zero before the first).  */
struct pani_audit_parsed
{
  char *store; /* The decoded strings.  */
  size_t store_size;
  struct pan_audit_key *keys;
  struct pan_audit_pan *pans;
  size_t nitems; /* Room in KEYS and in PANS.  */
  struct pan_audit_record rec;
};

/* Append to BUF the record REC up to, not including, the MAC suffix.  */
void pani_audit_format_prefix (struct pani_buf *buf,
                               const struct pan_audit_record *rec);

/* Parse the record LINE/LEN (without LF) into P, whose record is
 * cleared first (its storage is reused: what an earlier parse pointed
 * to is overwritten); GPG_ERR_INV_DATA with a reason (no record
 * content) if it is not a record in canonical form.  */
gpg_error_t pani_audit_parse (const char *line, size_t len,
                              struct pani_audit_parsed *p, char **r_reason);

/* Release what P holds and clear it.  */
void pani_audit_parsed_clear (struct pani_audit_parsed *p);

/* Mask the card numbers in S in place, as the writer masks them in a
 * record's masked fields.  */
void pani_audit_mask_in_place (char *s);

/* Check that EV may be written as a record: short lower-case words for
 * event, tool and outcome, masked and hashed PANs, well-formed
 * fingerprints, bounded strings; GPG_ERR_INV_VALUE with a reason if
 * not.  */
gpg_error_t pani_audit_check_event (const struct pan_audit_event *ev,
                                    char **r_reason);

/* True if S is exactly 64 lower-case hex digits (a SHA-256 or MAC).  */
int pani_audit_is_hash (const char *s);

/* Parse the decimal number at *P, before END (no leading zero, at least
 * 1) into *R_SEQ and advance *P past it; false if there is none.  */
int pani_audit_parse_seq (const char **p, const char *end,
                          unsigned long long *r_seq);


/*
 * audit-key.c: the forward-secure key, audit.key and the audit lock.
 */

/* The contents of audit.key.  */
struct pani_audit_state
{
  unsigned long long seq;  /* The record the key is for.  */
  unsigned char *key;      /* Secure memory.  */
  char prev[AUDIT_HEXLEN]; /* What that record's prev must be.  */
};

/* The audit files of a home, and the lock while it is held.  */
struct pani_audit_files
{
  char *log, *key, *lock;
  int lock_timeout; /* Seconds (lock-timeout).  */
  int lockfd;       /* -1 unless locked.  */
  int new_segment;  /* audit.log was just started by rotate:
                                   empty, it continues audit.key's
                                   chain.  */
};

/* Return a new key (AUDIT_KEYLEN bytes) in secure memory, or NULL.  */
unsigned char *pani_audit_key_new (void);

/* Wipe and release KEY (NULL is accepted).  */
void pani_audit_key_free (unsigned char *key);

/* Replace KEY in place by the next key of the chain.  */
gpg_error_t pani_audit_key_evolve (unsigned char *key);

/* Store the hex HMAC-SHA256 of DATA/LEN under KEY at HEX.  */
gpg_error_t pani_audit_key_mac (const unsigned char *key, const void *data,
                                size_t len, char hex[AUDIT_HEXLEN]);

/* Parse the key text TEXT/LEN (64 hex digits, white space ignored, an
 * optional leading "audit key:") into a new secure *R_KEY;
 * GPG_ERR_INV_VALUE if it is not one.  */
gpg_error_t pani_audit_key_parse (const char *text, size_t len,
                                  unsigned char **r_key);

/* Read the initial key from KEY_FILE ("-": stdin) into a new secure
 * *R_KEY.  */
gpg_error_t pani_audit_key_read (const char *key_file, unsigned char **r_key,
                                 char **r_reason);

/* Create the initial key of a home whose files are F (locked): fail
 * with GPG_ERR_EEXIST unless there is neither audit.key nor a record,
 * else create an empty audit.log and audit.key for record 1, and store
 * the key as 64 hex digits in secure memory at *R_HEX.  */
gpg_error_t pani_audit_key_create (const struct pani_audit_files *f,
                                   char **r_hex, char **r_reason);

/* Wipe and release the state ST and clear it.  */
void pani_audit_state_clear (struct pani_audit_state *st);

/* Parse the audit.key text TEXT/LEN into ST; GPG_ERR_INV_DATA if it is
 * not "seq N key HEX prev HEX\n".  */
gpg_error_t pani_audit_state_parse (const char *text, size_t len,
                                    struct pani_audit_state *st);

/* Read audit.key at PATH into ST; a missing file sets *R_MISSING and
 * returns 0.  */
gpg_error_t pani_audit_state_read (const char *path,
                                   struct pani_audit_state *st,
                                   int *r_missing, char **r_reason);

/* Replace audit.key at PATH atomically by ST.  */
gpg_error_t pani_audit_state_write (const char *path,
                                    const struct pani_audit_state *st,
                                    char **r_reason);

/* Set F to the audit files of CTX's home (not locked).  */
gpg_error_t pani_audit_files_init (pan_ctx_t ctx,
                                   struct pani_audit_files *f);

/* Take the audit lock of F, waiting at most its lock-timeout.  */
gpg_error_t pani_audit_lock (struct pani_audit_files *f, char **r_reason);

/* Drop the lock of F if held and release F.  */
void pani_audit_files_release (struct pani_audit_files *f);


/*
 * audit-syslog.c: the syslog mirror.
 */

/* Store at *R_FACILITY the syslog facility CTX's configuration asks to
 * mirror records to, or -1 for none; GPG_ERR_CONFIGURATION if the
 * settings are not valid.  */
gpg_error_t pani_audit_syslog_config (pan_ctx_t ctx, int *r_facility,
                                      char **r_reason);

/* Send a one-line summary of REC, whose line hashes to HASH, to syslog
 * at FACILITY (-1: nothing is sent).  */
void pani_audit_syslog_mirror (int facility,
                               const struct pan_audit_record *rec,
                               const char *hash);


/*
 * audit-append.c
 */

/* Append EV (checked) at NOW to the log of F, which the caller has
 * locked, closing a torn line first; mirror it to FACILITY (-1:
 * none).  */
gpg_error_t pani_audit_append_locked (const struct pani_audit_files *f,
                                      const struct pan_audit_event *ev,
                                      time_t now, int facility,
                                      char **r_reason);

/* Finish a rotation of the log of F (locked) that stopped after its
 * segment-close record: put the new audit.log in place, then write its
 * segment-open record.  Costs two lstat calls when there is nothing to
 * finish.  pani_audit_append_locked calls it first.  */
gpg_error_t pani_audit_finish_rotation (const struct pani_audit_files *f,
                                        time_t now, int facility,
                                        char **r_reason);


/*
 * Closed segments: their names (audit-list.c), their last records and
 * the newest registry digest (audit-tail.c), the first record of a new
 * one and finishing a stopped rotation (audit-append.c), rotation,
 * compression and pruning (audit-segment.c).
 */

/* Store at *R_PATHS (NULL-terminated) the paths of the closed segments
 * in the directory DIR, in the order of their records (by name:
 * audit-FIRST-LAST-TIME1-TIME2.log, sequence numbers of 12 digits).  */
gpg_error_t pani_audit_segments_list (const char *dir, char ***r_paths,
                                      size_t *r_n, char **r_reason);

/* Release what pani_audit_segments_list returned.  */
void pani_audit_segments_free (char **paths, size_t n);

/* The newest record of a log that names a registry digest.  */
struct pani_audit_registry_mark
{
  char sha256[65];
  unsigned long long seq; /* 0: none found.  */
  char event[32];
  time_t time;
};

/* Find the newest record with a registry digest in the log of F: the
 * open segment read backwards from its end (only lines that name the
 * field are parsed; a torn last line is skipped), else the closed
 * segments of DIR, newest first.  MARK->SEQ stays 0 if there is none.
 * A segment-open record carries the digest of the segment it follows,
 * so the open segment has one if the log ever had one.  */
gpg_error_t pani_audit_newest_registry (
  const struct pani_audit_files *f, const char *dir,
  struct pani_audit_registry_mark *mark, char **r_reason);


/* Who owns the files rotate, compress and prune make, and their
 * modes.  */
struct pani_audit_role
{
  uid_t uid;
  gid_t gid; /* (gid_t)-1: as the directory gives it.  */
  mode_t log, closed, checkpoint;
};

/* Fill R with the owner and modes of the role of CTX's home: in a home
 * shared with senders audit.log 0660, a closed segment 0440 and
 * audit.checkpoint 0640, of the senders' group; else 0600, 0400 and
 * 0600.  */
void pani_audit_file_role (pan_ctx_t ctx, struct pani_audit_role *r);

/* Give the file FD (PATH) the owner of R and MODE.  Only root may give
 * a file away: others keep what they made.  */
gpg_error_t pani_audit_set_role (int fd, const char *path,
                                 const struct pani_audit_role *r,
                                 mode_t mode, char **r_reason);

/* What audit.log is made as before a rotation puts it in place.  */
#define AUDIT_NEW_SUFFIX ".new"

/* Store at P the last record of the closed segment PATH (compressed or
 * not), and the SHA-256 of its line at HASH.  */
gpg_error_t pani_audit_segment_end (const char *path,
                                    struct pani_audit_parsed *p,
                                    char hash[AUDIT_HEXLEN],
                                    char **r_reason);

/* Append to the empty open segment of F (locked) its first record,
 * "segment-open", which continues from the closed segment NAME
 * (records FIRST to LAST, whose line hash is HEAD) and carries the
 * newest registry digest of the log in DIR.  */
gpg_error_t pani_audit_segment_open (
  const struct pani_audit_files *f, const char *dir, const char *name,
  unsigned long long first, unsigned long long last, const char *head,
  const char *operator_name, time_t now, int facility, char **r_reason);


/*
 * audit-gz.c: compressed closed segments (gzip).
 */

/* The name ending of a compressed closed segment.  */
#define AUDIT_GZ_SUFFIX ".gz"

/* True if PATH ends in AUDIT_GZ_SUFFIX.  */
int pani_audit_is_gz (const char *path);

/* Inflating a gzip file as it is read.  */
struct pani_audit_gz;

/* Start inflating the gzip file open at FD (not taken over) into a new
 * *R_GZ.  */
gpg_error_t pani_audit_gz_open (int fd, struct pani_audit_gz **r_gz);

/* Inflate at most SIZE bytes into BUF, their number at *R_N (0 at the
 * end, which is only after a complete member); GPG_ERR_INV_DATA if the
 * file is not gzip, is damaged (CRC-32, length) or cut short.  */
gpg_error_t pani_audit_gz_read (struct pani_audit_gz *gz, char *buf,
                                size_t size, size_t *r_n);

/* Release GZ (NULL is accepted).  */
void pani_audit_gz_close (struct pani_audit_gz *gz);

/* Write what is left to read at SRC, gzip-compressed, to DST.  */
gpg_error_t pani_audit_gz_compress (int src, int dst);


/*
 * audit-read.c: the log as it stands, taken under the lock, and its
 * lines read in chunks.
 */

/* The log as it stood when the lock was held: its segment files in
 * order (the open one, audit.log, last) and audit.key.  */
struct pani_audit_snapshot
{
  char **files; /* Paths; the last is audit.log.  */
  size_t nfiles;
  int logfd;                 /* audit.log, opened under the lock;
                                   -1 if it is missing.  */
  unsigned long long loglen; /* Its length then.  */
  struct pani_audit_state state;
  int state_missing;
  char *checkpoint; /* audit.checkpoint (an anchor line for
                                   the last record pruned), or NULL.  */
  int no_log;       /* FILES are all closed segments: none is
                                   audit.log at LOGFD.  */
};

/* Take the log and audit.key of CTX's home under the audit lock, so
 * that a writer in the middle of an append is not mistaken for damage.
 * A read-only copy of a home (no lock possible) is read as it is.  A
 * missing log reads as empty.  */
gpg_error_t pani_audit_snapshot_take (pan_ctx_t ctx,
                                      struct pani_audit_snapshot *snap,
                                      char **r_reason);

/* Take the segments copied into DIR (closed ones and audit.log, if
 * there is one) as they are, without lock and without audit.key.  */
gpg_error_t pani_audit_snapshot_dir (const char *dir,
                                     struct pani_audit_snapshot *snap,
                                     char **r_reason);

/* Release SNAP and clear it.  */
void pani_audit_snapshot_release (struct pani_audit_snapshot *snap);

/* One line of the log, without its LF.  */
struct pani_audit_line
{
  const char *p;
  size_t len;            /* More than PAN_AUDIT_MAX_LINE: a line
                                   too long, of which only the first
                                   PAN_AUDIT_MAX_LINE + 1 bytes are at P.  */
  int has_nl;            /* It ended in LF (else: end of file).  */
  unsigned long long no; /* Counted from 1 in its file.  */
  const char *file;      /* Its file, or NULL (in memory).  */
};

/* Where a reader of the log's lines stands: in a text held in memory,
 * or in the files of a snapshot, read in chunks so that memory use
 * does not grow with the log.  The verifier and the reader take lines
 * only through pani_audit_lines_next.  */
struct pani_audit_lines
{
  const char *data; /* In memory.  */
  size_t len, pos;
  unsigned long long lineno;
  const struct pani_audit_snapshot *snap; /* Or from its files.  */
  size_t nextfile;
  int fd;
  struct pani_audit_gz *gz; /* A compressed segment being read.  */
  unsigned long long left;  /* Bytes of the file still to read.  */
  char *win;                /* The chunk read last.  */
  size_t wpos, wend;
  char *slot[2]; /* The last two lines returned.  */
  unsigned int which;
  gpg_error_t err; /* Why reading stopped early.  */
  char *reason;
};

/* Start reading the lines of the log text DATA/LEN (DATA may be NULL
 * if LEN is 0).  */
void pani_audit_lines_init (struct pani_audit_lines *c, const char *data,
                            size_t len);

/* Start reading the lines of the files of SNAP, which must outlive C.  */
gpg_error_t pani_audit_lines_open (struct pani_audit_lines *c,
                                   const struct pani_audit_snapshot *snap);

/* Store the next line at L; return false at the end or on a read error
 * (C->ERR, C->REASON).  A line stays valid until the second call after
 * the one that returned it.  */
int pani_audit_lines_next (struct pani_audit_lines *c,
                           struct pani_audit_line *l);

/* Release what C holds.  */
void pani_audit_lines_release (struct pani_audit_lines *c);

/* Verify the log text LOG/LOGLEN held in memory; STATE/STATELEN is the
 * text of audit.key (NULL: not checked), KEY_HEX the initial key (NULL:
 * MACs not checked), ANCHOR an anchor line or NULL.  */
gpg_error_t pani_audit_verify_buffer (const void *log, size_t loglen,
                                      const void *state, size_t statelen,
                                      const char *key_hex,
                                      const char *anchor,
                                      struct pan_audit_verdict *r_verdict,
                                      char **r_reason);

/* Return "intact", "modified", "inserted", "deleted", "reordered",
 * "truncated" or "torn".  */
const char *pani_audit_damage_name (pan_audit_damage_t damage);

#endif /* PAN_AUDIT_INT_H */
