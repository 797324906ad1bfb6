/* SPDX-License-Identifier: MIT */
/*
 * Line numbers for a parsed JSON document. cJSON keeps no positions, so
 * the raw text is scanned once and its keys and values are paired, in
 * document order, with the items of the cJSON tree.
 */
#ifndef MID_POL_JSONPOS_H
#define MID_POL_JSONPOS_H

#include <cjson/cJSON.h>
#include <stddef.h>

#include "mid.h"

struct mid_jsonpos; /* opaque */

/*
 * Index 'root', the tree cJSON built from 'text' ('len' bytes). Every
 * object member is given the line of its key, every array element and the
 * root the line where it starts. Nesting deeper than 'maxdepth' and a
 * "\u0000" escape (which would cut a C string short) are refused with
 * '*line' and 'why' set. On success the caller owns '*out' and frees it
 * with mid_jsonpos_free().
 */
MID_WUR enum mid_rc mid_jsonpos_new(const char *text, size_t len, const cJSON *root,
				    unsigned maxdepth, struct mid_jsonpos **out,
				    unsigned *line, char *why, size_t whylen);

/* The line of 'item', 1-based; 0 when the item was not indexed. */
unsigned mid_jsonpos_line(const struct mid_jsonpos *pos, const cJSON *item);

/* Accepts NULL. */
void mid_jsonpos_free(struct mid_jsonpos *pos);

/* The 1-based line and column of byte 'off' of 'text'. */
void mid_json_where(const char *text, size_t len, size_t off, unsigned *line, unsigned *col);

#endif
