/* snidtable.h - values kept per tracker id (a region's id) for as long as
 * the id keeps being seen: the `shufflenet` element's reused region
 * results (snregions.c) and its per-region smoothing (sntemporal.c).
 * An entry is dropped when its id was not seen for @max_age frames, and
 * the least recently seen go first when more than @max_entries remain. */
#ifndef __SN_ID_TABLE_H__
#define __SN_ID_TABLE_H__

#include <glib.h>

G_BEGIN_DECLS

typedef struct _SnIdTable SnIdTable;

/* @free_value frees a value when its entry is replaced or dropped. */
SnIdTable *sn_id_table_new (GDestroyNotify free_value);
void sn_id_table_free (SnIdTable * table);
void sn_id_table_clear (SnIdTable * table);
guint sn_id_table_size (const SnIdTable * table);

/* @id's value, marked seen on @frame; NULL when there is none. */
gpointer sn_id_table_get (SnIdTable * table, gint id, guint64 frame);

/* Sets @id's value (taken), seen on @frame; frees one it replaces. */
void sn_id_table_set (SnIdTable * table, gint id, gpointer value,
    guint64 frame);

/* Drops the entries not seen since @frame - @max_age, then the least
 * recently seen while more than @max_entries remain. */
void sn_id_table_forget (SnIdTable * table, guint64 frame, guint64 max_age,
    guint max_entries);

G_END_DECLS

#endif /* __SN_ID_TABLE_H__ */
