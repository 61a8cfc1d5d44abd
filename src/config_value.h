/*
 * What config.c shares with config_value.c: the value parsers its key
 * table calls.  Nothing outside the two files includes this; the parsers
 * that others use (config_parse_duration, config_parse_vip, ...) and the
 * comparisons are declared in config.h.  Every parser returns NULL on
 * success, else a message.
 */
#ifndef SPOFD_CONFIG_VALUE_H
#define SPOFD_CONFIG_VALUE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config.h"

#define CONFIG_NAME_RULE "use 1 to 63 of A-Z a-z 0-9 _ . -, starting with a letter or digit"

/* The shortest way to write MS back ("90s", "2m"), into BUF. */
const char *config_duration_str(uint64_t ms, char *buf, size_t len);
/* Decimal digits only, in [LO, HI]. */
const char *config_parse_long(const char *s, long lo, long hi, long *out);
/* A whole number of bytes, decimal digits only. */
const char *config_parse_bytes(const char *s, uint64_t *out);
/* A service, member or node name: CONFIG_NAME_RULE. */
bool config_name_valid(const char *s);
/* yes/no, true/false, on/off, 1/0, in any case; false when it is none. */
bool config_bool_parse(const char *s, bool *out);
/* Decode C escapes into OUT (allocated); NULL, or a pointer to the bad escape in S. */
const char *config_unescape(const char *s, char **out, size_t *outlen);
bool config_has_blank_or_control(const char *s);
/* The same address, whatever the prefix length and interface. */
bool config_vip_same_address(const struct vip_conf *a, const struct vip_conf *b);
/* A pg_conninfo libpq accepts and that sets no keyword spofd sets itself; message into BUF. */
const char *config_check_conninfo(const char *s, char *buf, size_t len);
/* The password in the file PATH into OUT (allocated); message into MSG. */
const char *config_read_secret(const char *path, char **out, char *msg, size_t len);

#endif
