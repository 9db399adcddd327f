/*
 * bundle.h - a model bundle: the artifact of a model version.
 *
 * A model version forecasts many series, each with its own fitted model (the one AutoML chose
 * for it). The bundle holds them all in one versioned, checksummed blob: per series its item
 * id, the key of its model group (split_by: which group it was trained in; "" when the
 * forecaster is not split) and the model's serialized envelope (tsl_model_save), plus one text
 * of per-version metadata (by convention JSON: lineage, settings, the data baseline). The
 * registry stores it as the version's artifact, so any process that reaches the store can load
 * it.
 *
 * Reading is lazy. Opening checks the header, the metadata and the index (the item ids, group
 * keys, and where each model lies, all under one CRC-32) and builds a lookup table, in time
 * proportional to the number of items; it decodes no model. tsl_bundle_find then finds an
 * item by binary search and tsl_bundle_load decodes just its model (whose own CRC-32 is checked
 * first). Serving one item of a ten-thousand-item bundle never decodes the other 9,999.
 * tsl_bundle_verify checks every model's checksum without decoding any.
 *
 * The format (docs/registry.md) is part of the artifacts kept in stores: it is versioned, and a
 * reader refuses a version it does not know (TSL_EVERSION) and any structural damage
 * (TSL_ECORRUPT), never crashing on hostile bytes. Building is deterministic: entries are
 * written in item id order, so the same models and metadata give the same bytes whatever order
 * they were added in.
 *
 * The module is pure: bytes in, bytes out, no I/O.
 */
#ifndef TSLOOP_BUNDLE_H
#define TSLOOP_BUNDLE_H

#include <stddef.h>
#include <stdint.h>

#include "tsloop/buf.h"
#include "tsloop/err.h"
#include "tsloop/model.h"

#ifdef __cplusplus
extern "C" {
#endif

#define TSL_BUNDLE_VERSION   1
#define TSL_BUNDLE_MAX_KEY   65536             /* bytes of an item id or a group key */
#define TSL_BUNDLE_MAX_META  ((size_t)1 << 28) /* bytes of the metadata text */
#define TSL_BUNDLE_MAX_ITEMS 10000000

/* ---- building ---- */

typedef struct tsl_bundle_builder tsl_bundle_builder;

tsl_bundle_builder *tsl_bundle_builder_new(void);
void tsl_bundle_builder_free(tsl_bundle_builder *b); /* NULL is a no-op */

/* Sets the metadata text (copied; any bytes but NUL, JSON by convention). Default "". */
tsl_err tsl_bundle_builder_meta(tsl_bundle_builder *b, const char *meta, tsl_diag *d);

/* Adds the model of item_id (non-empty) in group (NULL or "" for none), serialized now. */
tsl_err tsl_bundle_add(tsl_bundle_builder *b, const char *item_id, const char *group,
                       const tsl_model *m, tsl_diag *d);

/* Adds an already serialized model: len bytes of a tsl_model_save envelope (copied), e.g.
 * taken from another bundle with tsl_bundle_model_bytes. Its magic and CRC-32 are checked
 * (TSL_ECORRUPT); it is not decoded. */
tsl_err tsl_bundle_add_raw(tsl_bundle_builder *b, const char *item_id, const char *group,
                           const void *model, size_t len, tsl_diag *d);

/* Entries added so far. */
size_t tsl_bundle_builder_count(const tsl_bundle_builder *b);

/* Appends the bundle to out. TSL_EINVAL when an item id was added twice (the message names
 * it). The builder may be freed or used again afterwards (its entries stay). */
tsl_err tsl_bundle_builder_write(const tsl_bundle_builder *b, tsl_wbuf *out, tsl_diag *d);

/* ---- reading ---- */

typedef struct tsl_bundle tsl_bundle;

/* One entry, as tsl_bundle_entry_at returns it: pointers into the bundle, valid while it is
 * open. */
typedef struct tsl_bundle_entry {
    const char *item_id;
    const char *group;  /* "" when none */
    size_t model_len;   /* bytes of the serialized model */
    uint32_t model_crc; /* its CRC-32 as the index records it */
} tsl_bundle_entry;

/* Opens len bytes of a bundle (copied: data need not outlive it). Checks the structure and
 * the index's CRC-32; decodes no model. TSL_ECORRUPT, TSL_EVERSION, TSL_ELIMIT on failure. */
tsl_err tsl_bundle_open(const void *data, size_t len, tsl_bundle **out, tsl_diag *d);

/* As tsl_bundle_open, but takes ownership of data (allocated with tsl_malloc), which it frees
 * with the bundle - or at once on failure. Saves a copy of a large artifact. */
tsl_err tsl_bundle_adopt(void *data, size_t len, tsl_bundle **out, tsl_diag *d);

void tsl_bundle_free(tsl_bundle *b); /* NULL is a no-op */

/* The metadata text (NUL-terminated) and its length. */
const char *tsl_bundle_meta(const tsl_bundle *b);
size_t tsl_bundle_meta_len(const tsl_bundle *b);

/* Entries, in item id order (bytewise). */
size_t tsl_bundle_count(const tsl_bundle *b);
void tsl_bundle_entry_at(const tsl_bundle *b, size_t i, tsl_bundle_entry *out);

/* The index of item_id's entry, or -1 when the bundle has none (binary search). */
long tsl_bundle_find(const tsl_bundle *b, const char *item_id);

/* Decodes the model of entry i (a new model, tsl_model_free). TSL_ECORRUPT when its bytes do
 * not match the index's checksum; tsl_model_load's errors otherwise. */
tsl_err tsl_bundle_load(const tsl_bundle *b, size_t i, tsl_model **out, tsl_diag *d);

/* The serialized model of entry i: *len bytes inside the bundle (not checked here). */
const void *tsl_bundle_model_bytes(const tsl_bundle *b, size_t i, size_t *len);

/* Checks every model's checksum against the index without decoding any; TSL_ECORRUPT naming
 * the first damaged item. */
tsl_err tsl_bundle_verify(const tsl_bundle *b, tsl_diag *d);

/* Frees the bundle's bytes (the serialized models and the metadata), keeping its index: for a
 * reader that has decoded what it needs and still looks items up (a served version). Afterwards
 * count, entry_at and find work as before, tsl_bundle_meta is "" (length 0), and
 * tsl_bundle_load, tsl_bundle_model_bytes and tsl_bundle_verify must not be called (asserted).
 * Idempotent. */
void tsl_bundle_drop_bytes(tsl_bundle *b);

/* Frees only the metadata (tsl_bundle_meta is "" afterwards); the models stay loadable. For a
 * reader done with the metadata before it decodes the models. Idempotent. */
void tsl_bundle_drop_meta(tsl_bundle *b);

#ifdef __cplusplus
}
#endif
#endif
