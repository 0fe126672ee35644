/*
 * feedback.c — see feedback.h.
 */
#include "people/feedback.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/log.h"
#include "storage/store_feedback.h"

#define FB_KEEP_ANSWERS_S (90L * 86400) /* older answers' buttons stop counting */

struct fb {
    store_feedback *t;
};

fb *fb_open(store *st, char *err, size_t errlen)
{
    fb *f = calloc(1, sizeof *f);
    if (!f) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    f->t = store_feedback_open(st, err, errlen);
    if (!f->t) {
        free(f);
        return NULL;
    }
    return f;
}

void fb_free(fb *f)
{
    if (!f)
        return;
    store_feedback_free(f->t);
    free(f);
}

int fb_attach(fb *f, const bm_machine *m, const bm_session *s, const bm_user *u, bm_effect *e)
{
    if (e->kind != BM_FX_SEND || e->markup.kind != BM_MK_NONE)
        return 0;
    int64_t id;
    if (store_feedback_add_answer(f->t, s->user_id, e->chat_id, &id))
        return -1;
    store_feedback_prune(f->t, FB_KEEP_ANSWERS_S);

    char dh[48], dop[48];
    snprintf(dh, sizeof dh, FB_CB_PREFIX "%" PRId64 ":h", id);
    snprintf(dop, sizeof dop, FB_CB_PREFIX "%" PRId64 ":o", id);
    int *row_len = malloc(sizeof *row_len);
    bm_button_out *btn = calloc(2, sizeof *btn);
    char *l0 = bm_render(m, s, u, m->sys_texts[BM_SYS_HELPED], "");
    char *l1 = bm_render(m, s, u, m->sys_texts[BM_SYS_OPERATOR], "");
    char *d0 = strdup(dh), *d1 = strdup(dop);
    if (!row_len || !btn || !l0 || !l1 || !d0 || !d1) {
        free(row_len);
        free(btn);
        free(l0);
        free(l1);
        free(d0);
        free(d1);
        return -1;
    }
    row_len[0] = 2;
    btn[0] = (bm_button_out){.label = l0, .data = d0, .kind = BM_BTN_CALLBACK};
    btn[1] = (bm_button_out){.label = l1, .data = d1, .kind = BM_BTN_CALLBACK};
    e->markup = (bm_markup){.kind = BM_MK_INLINE, .n_rows = 1, .row_len = row_len,
                            .n_buttons = 2, .buttons = btn};
    return 0;
}

int fb_press(fb *f, const bm_input *in)
{
    size_t pl = strlen(FB_CB_PREFIX);
    if (in->kind != BM_IN_CALLBACK || !in->text || strncmp(in->text, FB_CB_PREFIX, pl))
        return FB_NOT_MINE;
    char *end;
    long long id = strtoll(in->text + pl, &end, 10);
    const char *vote = !strcmp(end, ":h") ? "helped" : !strcmp(end, ":o") ? "operator" : NULL;
    if (id <= 0 || !vote) {
        log_info("feedback", "user %" PRId64 ": malformed feedback data ignored", in->user.id);
        return FB_IGNORED;
    }
    int64_t owner = 0;
    if (store_feedback_owner(f->t, id, &owner) < 0)
        return -1;
    if (!owner || owner != in->user.id) {
        /* someone else's answer (a group), a forged id, or a pruned one */
        log_info("feedback", "user %" PRId64 " pressed feedback on answer %lld %s; ignored",
                 in->user.id, id, owner ? "of another user" : "that is not known");
        return FB_IGNORED;
    }
    /* one vote per answer: a second press (a double tap, a stale client)
     * must not count twice */
    int stored = store_feedback_vote(f->t, id, in->user.id, in->user.chat_id, in->message_id, vote);
    if (stored < 0)
        return -1;
    log_info("feedback", "user %" PRId64 ": answer %lld %s '%s'", in->user.id, id,
             stored ? "voted" : "already had a vote; not counted again:", vote);
    return vote[0] == 'h' ? FB_HELPED : FB_OPERATOR;
}

int fb_delete_user(fb *f, int64_t user_id)
{
    if (!f)
        return 0;
    return store_feedback_delete_user(f->t, user_id);
}

int fb_export_user(fb *f, int64_t user_id, cJSON *root)
{
    if (!f)
        return 0;
    cJSON *a = cJSON_AddArrayToObject(root, "ai_answers");
    cJSON *v = cJSON_AddArrayToObject(root, "votes");
    if (!a || !v || store_feedback_export(f->t, user_id, a, v))
        return -1;
    return 0;
}
