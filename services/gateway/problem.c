/*
 * problem.c - chuang statuses as HTTP problem details; see problem.h.
 *
 * The title says in the caller's language what kind of failure it is; the
 * detail is the service's own words (its message, then its detail), and
 * the hint what to do. The type is a URN per status, stable for clients to
 * test.
 */
#include "problem.h"

#include <ctype.h>
#include <stdio.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static const struct {
    Chuang__Status status;
    unsigned int http;
    const char *type;
    const char *zh;
    const char *en;
} s_statuses[] = {
    {CHUANG__STATUS__INVALID_ARGUMENT, 400, "invalid-argument", "请求内容有误", "invalid request"},
    {CHUANG__STATUS__NOT_FOUND, 404, "not-found", "未找到", "not found"},
    {CHUANG__STATUS__ALREADY_EXISTS, 409, "already-exists", "已存在", "already exists"},
    {CHUANG__STATUS__FAILED_PRECONDITION, 409, "failed-precondition", "当前状态不允许此操作",
     "not allowed in the current state"},
    {CHUANG__STATUS__PERMISSION_DENIED, 403, "permission-denied", "无权进行此操作",
     "permission denied"},
    {CHUANG__STATUS__UNAUTHENTICATED, 401, "unauthenticated", "请先登录", "sign-in required"},
    {CHUANG__STATUS__RESOURCE_EXHAUSTED, 429, "resource-exhausted", "请求过于频繁，请稍后再试",
     "too many requests"},
    {CHUANG__STATUS__UNAVAILABLE, 503, "unavailable", "服务暂不可用，请稍后再试",
     "service unavailable"},
    {CHUANG__STATUS__DEADLINE_EXCEEDED, 504, "deadline-exceeded", "处理超时，请稍后再试",
     "timed out"},
    {CHUANG__STATUS__UNIMPLEMENTED, 501, "unimplemented", "不支持此操作", "not implemented"},
    {CHUANG__STATUS__INTERNAL, 500, "internal", "系统内部错误", "internal error"},
};
#define STATUSES (sizeof s_statuses / sizeof s_statuses[0])

/* The entry of status; INTERNAL's for a status the table lacks. */
static size_t s_entry(Chuang__Status status)
{
    for (size_t i = 0; i < STATUSES; i++)
        if (s_statuses[i].status == status)
            return i;
    return STATUSES - 1;
}

problem_language_t problem_language(const char *accept_language)
{
    problem_language_t best = PROBLEM_ZH;
    double best_q = -1;
    const char *at = accept_language ? accept_language : "";
    while (*at) {
        size_t len = strcspn(at, ",");
        const char *end = at + len;
        while (at < end && isspace((unsigned char)*at))
            at++;
        double q = 1;
        const char *semi = memchr(at, ';', (size_t)(end - at));
        if (semi) {
            const char *qv = strstr(semi, "q=");
            if (qv && qv < end)
                q = strtod(qv + 2, NULL);
        }
        bool zh = strncasecmp(at, "zh", 2) == 0, en = strncasecmp(at, "en", 2) == 0;
        if ((zh || en) && q > best_q) {
            best = zh ? PROBLEM_ZH : PROBLEM_EN;
            best_q = q;
        }
        at = *end ? end + 1 : end;
    }
    return best;
}

const char *problem_language_tag(problem_language_t language)
{
    return language == PROBLEM_EN ? "en" : "zh-CN";
}

unsigned int problem_http_status(Chuang__Status status)
{
    return status == CHUANG__STATUS__OK ? 200 : s_statuses[s_entry(status)].http;
}

/* A problem with its type, title and status. */
static json_t *s_problem(Chuang__Status status, problem_language_t language)
{
    size_t i = s_entry(status);
    char type[64];
    snprintf(type, sizeof type, "urn:chuang:problem:%s", s_statuses[i].type);
    return json_pack("{s:s, s:s, s:i}", "type", type, "title",
                     language == PROBLEM_EN ? s_statuses[i].en : s_statuses[i].zh, "status",
                     (int)s_statuses[i].http);
}

/* Appends one violation of field to problem's errors. */
static void s_error(json_t *problem, const char *field, const char *description)
{
    json_t *errors = json_object_get(problem, "errors");
    if (!errors) {
        errors = json_array();
        json_object_set_new(problem, "errors", errors);
    }
    json_array_append_new(errors, json_pack("{s:s, s:s}", "field", field, "detail", description));
}

json_t *problem_new(Chuang__Status status, problem_language_t language, const char *detail,
                    const char *field, const char *description)
{
    json_t *problem = s_problem(status, language);
    if (problem && detail)
        json_object_set_new(problem, "detail", json_string(detail));
    if (problem && field)
        s_error(problem, field, description ? description : "");
    return problem;
}

json_t *problem_from_reply(const Chuang__Reply *reply, problem_language_t language)
{
    json_t *problem = s_problem(reply->status, language);
    if (!problem)
        return NULL;
    char *detail = NULL;
    if (*reply->message && *reply->detail) {
        size_t size = strlen(reply->message) + strlen(reply->detail) + 3;
        detail = malloc(size);
        if (detail)
            snprintf(detail, size, "%s: %s", reply->message, reply->detail);
    }
    const char *text = detail ? detail : *reply->message ? reply->message : reply->detail;
    if (*text)
        json_object_set_new(problem, "detail", json_string(text));
    free(detail);
    if (*reply->hint)
        json_object_set_new(problem, "hint", json_string(reply->hint));
    for (size_t i = 0; i < reply->n_violations; i++)
        s_error(problem, reply->violations[i]->field, reply->violations[i]->description);
    if (reply->status == CHUANG__STATUS__RESOURCE_EXHAUSTED && reply->retry_after_ms > 0)
        json_object_set_new(problem, "retryAfterMs", json_integer(reply->retry_after_ms));
    return problem;
}
