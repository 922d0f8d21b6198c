/* audit-int.h - the audit log's record format (internal to libpanmail)
 *
 * A record is one line of JSON with its fields in a fixed order; the
 * line ends in ,"mac":"HEX"} and the MAC covers every byte before that
 * suffix.  The parser accepts only lines that the formatter would write
 * byte for byte (canonical form), so what panaudit shows is exactly
 * what the MAC and the hash chain protect.
 */
#ifndef PAN_AUDIT_INT_H
#define PAN_AUDIT_INT_H

#include "panmail.h"
#include "json-int.h"
#include "util.h"

#define AUDIT_LOG_FILE  "audit.log"
#define AUDIT_KEY_FILE  "audit.key"
#define AUDIT_LOCK_FILE "audit.lock"

/* Bytes of a key, a digest, and their hex forms with NUL.  */
#define AUDIT_KEYLEN 32
#define AUDIT_HEXLEN 65

/* The suffix ,"mac":"<64 hex>"} that ends every record.  */
#define AUDIT_MAC_PREFIX ",\"mac\":\""
#define AUDIT_MAC_SUFFIX_LEN (8 + 64 + 2)

/* A parsed record and the storage its pointers refer to.  */
struct pani_audit_parsed
{
  struct pani_json *json;
  struct pan_audit_key *keys;
  struct pan_audit_pan *pans;
  struct pan_audit_record rec;
};

/* Append to BUF the record REC up to, not including, the MAC suffix.  */
void pani_audit_format_prefix (struct pani_buf *buf,
                               const struct pan_audit_record *rec);

/* Parse the record LINE/LEN (without LF) into P, which is cleared
 * first; GPG_ERR_INV_DATA with a reason (no record content) if it is
 * not a record in canonical form.  */
gpg_error_t pani_audit_parse (const char *line, size_t len,
                              struct pani_audit_parsed *p, char **r_reason);

/* Release what P holds and clear it.  */
void pani_audit_parsed_clear (struct pani_audit_parsed *p);

#endif /* PAN_AUDIT_INT_H */
