/*
 * What survives a restart: per service the epoch, the primary and the
 * last vote, in state_dir/state.  Written to a temporary file, fsynced,
 * renamed over the old one, and the directory fsynced: a crash leaves the
 * old file or the new one, never half of one.
 */
#ifndef SPOFD_STATE_H
#define SPOFD_STATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define STATE_FILE "state"

struct state_entry {
	char *service;
	uint64_t epoch;     /* 0: never had a primary */
	char *primary;      /* member name; NULL: none */
	uint64_t last_vote; /* highest epoch this node voted in (cluster) */
};

struct state {
	struct state_entry *entries;
	size_t n;
};

enum state_load_result {
	STATE_LOADED,   /* read, or no file yet (empty state) */
	STATE_CORRUPT,  /* unreadable: moved aside, empty state, ERR says where */
	STATE_ERROR     /* cannot read (permissions...): empty state, ERR says why */
};

/* Read DIR/state into ST (which must be zeroed). */
enum state_load_result state_load(const char *dir, struct state *st, char *err, size_t errlen);
/* Write ST atomically to DIR/state, creating DIR (0750) if needed.  False with ERR on failure. */
bool state_save(const char *dir, const struct state *st, char *err, size_t errlen);

const struct state_entry *state_find(const struct state *st, const char *service);
/* Insert or update one service's entry. */
void state_set(struct state *st, const char *service, uint64_t epoch, const char *primary, uint64_t last_vote);
void state_free(struct state *st);

#endif
