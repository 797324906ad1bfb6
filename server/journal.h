/* SPDX-License-Identifier: MIT */
/*
 * The deny journal: a small file beside the database ("DB-pending"),
 * preallocated with zeros when midd starts, that keeps a change toward
 * deny (revoke, remove, org disable) while the database cannot take it.
 * Writing a slot overwrites blocks the file already owns, so it works on
 * a full file system and when the database file alone is read-only or
 * unlinked; midd replays the journal at start. Each slot carries its own
 * checksum: a slot torn by a crash reads as empty, and its change was
 * never acknowledged, since a slot is synced before the answer.
 */
#ifndef MID_JOURNAL_H
#define MID_JOURNAL_H

#include <stddef.h>

#include "mid.h"
#include "store.h"

#define MID_JOURNAL_SLOTS 1024      /* changes the journal can hold */
#define MID_JOURNAL_SLOT_BYTES 512  /* one change, with its checksum */
#define MID_JOURNAL_SUFFIX "-pending"

struct mid_journal;

/* Open the journal at 'path', creating and preallocating it when it is
 * missing. MID_ERR_PARSE when the file exists but is not a journal (it
 * may hold revocations: midd must not start over it); MID_ERR_IO when it
 * cannot be created, e.g. on a full disk. */
enum mid_rc mid_journal_open(const char *path, struct mid_journal **out,
			     char *err, size_t errlen) MID_WUR;
void mid_journal_free(struct mid_journal *j);

/* Call 'fn' for each change in the journal, oldest first, with its slot.
 * The row's code is empty; its decision is the state the change set. */
typedef void (*mid_journal_fn)(int slot, const struct mid_audit_row *row, void *arg);
void mid_journal_each(struct mid_journal *j, mid_journal_fn fn, void *arg);

/* Write 'row' durably into slot '*slot', or into a free slot when it is
 * negative (its number then in '*slot'). MID_ERR_TOO_BIG when no slot is
 * free; MID_ERR_IO when the write or the sync failed, or the journal
 * file itself was unlinked. */
enum mid_rc mid_journal_put(struct mid_journal *j, int *slot,
			    const struct mid_audit_row *row) MID_WUR;

/* Empty 'slot' durably. */
enum mid_rc mid_journal_clear(struct mid_journal *j, int slot) MID_WUR;

/* Slots in use. */
size_t mid_journal_used(const struct mid_journal *j);

#endif
