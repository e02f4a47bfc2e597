/*
 * handlers.c - the registry's request handlers: each checks its input field
 * by field, applies the change through store.c and writes the event that
 * reports it, all in the request's one transaction.
 *
 * Bad input is answered INVALID_ARGUMENT with one violation per field, in
 * words a clerk can act on, before anything is written. The agency is the
 * envelope's: a registry serves one agency's register and assigns credit
 * codes under that agency's division code.
 */
#include "handlers.h"
#include "personal.h"
#include "enterprise_name.h"
#include "identifiers.h"
#include "licence.h"
#include "db.h"
#include "logger.h"
#include "store.h"

#include <ctype.h>
#include <czmq.h>
#include <time.h>

#define PERSON_NAME_MAX   50 /* characters */
#define SCOPE_MAX_BYTES   4000
#define ADDRESS_MAX_BYTES 400
#define FOUNDERS_MAX      50
#define ADDRESSES_MAX     20
#define CAPITAL_MAX_FEN   1000000000000000LL /* ten trillion yuan */
#define SEARCH_LIMIT_MAX  100
#define SEARCH_DEFAULT    20
#define REGION_QUERY_MAX  200
#define CATEGORIES_MAX    16 /* a founder's categories */

const bounds_t registry_bounds[] = {
    {"chuang.registry.RegisterRequest.founders", FOUNDERS_MAX},
    {"chuang.registry.RegisterRequest.business_addresses", ADDRESSES_MAX},
    {"chuang.registry.Founder.categories", CATEGORIES_MAX},
    {NULL, 0},
};

/* The credit-code alphabet (GB 32100), in which organisation numbers are
 * written. */
static const char s_alphabet[] = "0123456789ABCDEFGHJKLMNPQRTUWXY";

/* Today in the calling agency's calendar, as YYYYMMDD; the UTC date when
 * the database cannot say (the request then fails on its next statement). */
static int s_today(service_call_t *call)
{
    int today = store_today(service_call_db(call), service_call_header(call)->agency);
    if (today > 0)
        return today;
    time_t now = time(NULL);
    struct tm tm;
    gmtime_r(&now, &tm);
    return (tm.tm_year + 1900) * 10000 + (tm.tm_mon + 1) * 100 + tm.tm_mday;
}

/* Checks the envelope's agency: the registry needs a division code to
 * register under. */
static bool s_agency_valid(service_call_t *call)
{
    char reason[128];
    if (identifiers_division_check(service_call_header(call)->agency, reason, sizeof reason) == 0)
        return true;
    service_call_violation(call, "agency", "the request's agency %s", reason);
    return false;
}

/* Checks a person at path (e.g. "legal_representative"). */
static void s_check_person(service_call_t *call, const char *path,
                           const Chuang__Registry__Person *person)
{
    char field[96], reason[128];
    if (!person) {
        service_call_violation(call, path, "is required");
        return;
    }
    int length = enterprise_name_utf8_length(person->name);
    if (length < 1 || length > PERSON_NAME_MAX) {
        snprintf(field, sizeof field, "%s.name", path);
        service_call_violation(call, field, "must be 1 to %d characters of valid text",
                               PERSON_NAME_MAX);
    }
    if (identifiers_resident_id_check(person->id_number, s_today(call), reason, sizeof reason) !=
        0) {
        snprintf(field, sizeof field, "%s.id_number", path);
        service_call_violation(call, field, "is not a valid resident ID number: %s", reason);
    }
    const char *phone = person->phone;
    bool mobile = strlen(phone) == 11 && phone[0] == '1' && strspn(phone, "0123456789") == 11;
    if (!mobile) {
        snprintf(field, sizeof field, "%s.phone", path);
        service_call_violation(call, field, "must be an 11-digit mobile number starting with 1");
    }
}

static void s_check_address(service_call_t *call, const char *path,
                            const Chuang__Registry__Address *address)
{
    char field[96], reason[128];
    if (!address) {
        service_call_violation(call, path, "is required");
        return;
    }
    if (identifiers_division_check(address->division_code, reason, sizeof reason) != 0) {
        snprintf(field, sizeof field, "%s.division_code", path);
        service_call_violation(call, field, "%s", reason);
    }
    size_t length = strlen(address->detail);
    if (length == 0 || length > ADDRESS_MAX_BYTES ||
        enterprise_name_utf8_length(address->detail) < 0) {
        snprintf(field, sizeof field, "%s.detail", path);
        service_call_violation(call, field, "must be 1 to %d bytes of valid text",
                               ADDRESS_MAX_BYTES);
    }
}

/* GB/T 4754 shape: a section letter A-T, then nothing, 2, 3 or 4 digits. */
static bool s_industry_code_valid(const char *code)
{
    size_t digits = strlen(code) - 1;
    return *code >= 'A' && *code <= 'T' && strspn(code + 1, "0123456789") == digits &&
           (digits == 0 || digits == 2 || digits == 3 || digits == 4);
}

static bool s_uuid_shaped(const char *text)
{
    if (strlen(text) != 36)
        return false;
    for (int i = 0; i < 36; i++) {
        bool dash = i == 8 || i == 13 || i == 18 || i == 23;
        if (dash ? text[i] != '-' : !isxdigit((unsigned char)text[i]))
            return false;
    }
    return true;
}

/* The organisational forms an entity type may carry in its name. */
static bool s_form_fits(Chuang__Registry__EntityType type, const char *form)
{
    switch (type) {
    case CHUANG__REGISTRY__ENTITY_TYPE__LIMITED_COMPANY:
        return streq(form, "有限公司") || streq(form, "有限责任公司");
    case CHUANG__REGISTRY__ENTITY_TYPE__JOINT_STOCK_COMPANY:
        return streq(form, "股份有限公司");
    case CHUANG__REGISTRY__ENTITY_TYPE__SOLE_PROPRIETORSHIP:
        return streq(form, "个人独资企业") || streq(form, "厂") || streq(form, "店") ||
               streq(form, "中心") || streq(form, "工作室");
    case CHUANG__REGISTRY__ENTITY_TYPE__PARTNERSHIP:
        return streq(form, "合伙企业") || streq(form, "(普通合伙)") || streq(form, "(有限合伙)");
    case CHUANG__REGISTRY__ENTITY_TYPE__INDIVIDUAL_BUSINESS:
        return streq(form, "店") || streq(form, "馆") || streq(form, "部") || streq(form, "厂") ||
               streq(form, "中心") || streq(form, "工作室");
    case CHUANG__REGISTRY__ENTITY_TYPE__FARMERS_COOPERATIVE:
        return streq(form, "专业合作社") || streq(form, "农民专业合作社");
    default:
        return false;
    }
}

/* GB 32100 organisation-type code under registration authority 9 (market
 * regulation): 1 enterprise, 2 individual business, 3 farmers' cooperative. */
static char s_type_code(Chuang__Registry__EntityType type)
{
    if (type == CHUANG__REGISTRY__ENTITY_TYPE__INDIVIDUAL_BUSINESS)
        return '2';
    if (type == CHUANG__REGISTRY__ENTITY_TYPE__FARMERS_COOPERATIVE)
        return '3';
    return '1';
}

Chuang__Status handle_reserve_name(service_call_t *call, const ProtobufCMessage *input,
                                   ProtobufCMessage *output)
{
    const Chuang__Registry__ReserveNameRequest *request =
        (const Chuang__Registry__ReserveNameRequest *)input;
    Chuang__Registry__NameReservation *reply = (Chuang__Registry__NameReservation *)output;
    const char *agency = service_call_header(call)->agency;
    PGconn *db = service_call_db(call);

    bool valid = s_agency_valid(call);
    enterprise_name_t name;
    enterprise_name_violation_t violations[ENTERPRISE_NAME_MAX_VIOLATIONS];
    int count = enterprise_name_parse(request->region, request->trade_name, request->industry,
                                      request->organisational_form, NULL, &name, violations,
                                      ENTERPRISE_NAME_MAX_VIOLATIONS);
    for (int i = 0; i < count && i < ENTERPRISE_NAME_MAX_VIOLATIONS; i++)
        service_call_violation(call, violations[i].field, "%s", violations[i].description);
    valid = valid && count == 0;
    int length = enterprise_name_utf8_length(request->applicant_name);
    if (length < 1 || length > PERSON_NAME_MAX) {
        service_call_violation(call, "applicant_name", "must be 1 to %d characters of valid text",
                               PERSON_NAME_MAX);
        valid = false;
    }
    char reason[128];
    if (identifiers_resident_id_check(request->applicant_id_number, s_today(call), reason,
                                      sizeof reason) != 0) {
        service_call_violation(call, "applicant_id_number", "is not a valid resident ID number: %s",
                               reason);
        valid = false;
    }
    if (!valid)
        return CHUANG__STATUS__INVALID_ARGUMENT;
    if (!service_call_has_role(call, "officer") &&
        !service_call_is_person(call, request->applicant_id_number))
        return service_call_fail(call, CHUANG__STATUS__PERMISSION_DENIED,
                                 "applicant is not the caller",
                                 "An applicant reserves names in their own name only.",
                                 "Have an officer reserve the name for someone else.");

    char word[64];
    const char *fields[2] = {"trade_name", "industry"};
    const char *texts[2] = {name.trade_name, name.industry};
    for (int i = 0; i < 2; i++) {
        int found = store_forbidden_word(db, agency, texts[i], word, sizeof word);
        if (found < 0)
            return service_call_sql_fail(call, NULL, "forbidden words");
        if (found) {
            service_call_violation(call, fields[i],
                                   "contains a word this agency does not allow: %s", word);
            valid = false;
        }
    }
    if (!valid)
        return CHUANG__STATUS__INVALID_ARGUMENT;

    char holder[ENTERPRISE_NAME_FULL_SIZE];
    int taken = store_name_taken(db, agency, name.trade_name, name.industry, holder, sizeof holder);
    if (taken < 0)
        return service_call_sql_fail(call, NULL, "name conflict check");
    if (taken) {
        service_call_violation(
            call, "trade_name",
            "with this industry is already used by %s; choose another trade name", holder);
        return service_call_fail(call, CHUANG__STATUS__ALREADY_EXISTS, "name not available",
                                 "Another entity or a live reservation in this agency has the same "
                                 "trade name and industry.",
                                 "Choose another trade name, or another industry wording.");
    }
    long long days = 0;
    int ruled = store_rule(db, agency, "name_reservation_days", &days);
    if (ruled < 0)
        return service_call_sql_fail(call, NULL, "reservation period rule");
    if (ruled == 0 || days <= 0)
        return service_call_fail(call, CHUANG__STATUS__FAILED_PRECONDITION,
                                 "no reservation period in force",
                                 "No name_reservation_days rule is in force for this agency today.",
                                 "An operator must add the rule with an effective date.");

    char id[STORE_ID_SIZE], expires_on[STORE_DATE_SIZE];
    if (store_reservation_add(db, agency, &name, request->applicant_name,
                              request->applicant_id_number, days, id, expires_on) != 0)
        return service_call_sql_fail(call, NULL, "add reservation");
    reply->reservation_id = service_call_strdup(call, id);
    reply->name = service_call_strdup(call, name.full);
    reply->trade_name = service_call_strdup(call, name.trade_name);
    reply->industry = service_call_strdup(call, name.industry);
    reply->expires_on = service_call_strdup(call, expires_on);
    reply->status = "reserved";
    reply->applicant_id_number = request->applicant_id_number;
    return service_call_emit(call, "registry.NameReserved", id,
                             CHUANG__VISIBILITY__VISIBILITY_AGENCIES, output);
}

Chuang__Status handle_search_names(service_call_t *call, const ProtobufCMessage *input,
                                   ProtobufCMessage *output)
{
    const Chuang__Registry__SearchNamesRequest *request =
        (const Chuang__Registry__SearchNamesRequest *)input;
    bool valid = s_agency_valid(call);
    int length = enterprise_name_utf8_length(request->query);
    if (length < 1 || strlen(request->query) > REGION_QUERY_MAX) {
        service_call_violation(call, "query", "must be 1 to %d bytes of valid text",
                               REGION_QUERY_MAX);
        valid = false;
    }
    if (request->limit < 0 || request->limit > SEARCH_LIMIT_MAX) {
        service_call_violation(call, "limit", "must be between 1 and %d", SEARCH_LIMIT_MAX);
        valid = false;
    }
    if (!valid)
        return CHUANG__STATUS__INVALID_ARGUMENT;
    if (store_names_search(service_call_db(call), call, service_call_header(call)->agency,
                           request->query, request->limit ? request->limit : SEARCH_DEFAULT,
                           (Chuang__Registry__SearchNamesReply *)output) < 0)
        return service_call_sql_fail(call, NULL, "search names");
    return CHUANG__STATUS__OK;
}

/* Checks everything in a registration that does not need the database,
 * recording a violation per offending field. */
static void s_check_register(service_call_t *call, const Chuang__Registry__RegisterRequest *request)
{
    s_agency_valid(call);
    if (!*request->reservation_id) {
        service_call_violation(call, "reservation_id", "is required: reserve the name first");
    } else if (!s_uuid_shaped(request->reservation_id)) {
        service_call_violation(call, "reservation_id", "is not a reservation id");
    }
    if (request->entity_type < CHUANG__REGISTRY__ENTITY_TYPE__LIMITED_COMPANY ||
        request->entity_type > CHUANG__REGISTRY__ENTITY_TYPE__FARMERS_COOPERATIVE)
        service_call_violation(call, "entity_type", "is required");
    s_check_person(call, "legal_representative", request->legal_representative);
    if (request->registered_capital_fen < 0 || request->registered_capital_fen > CAPITAL_MAX_FEN)
        service_call_violation(call, "registered_capital_fen", "must be between 0 and %lld fen",
                               CAPITAL_MAX_FEN);
    size_t scope = strlen(request->business_scope);
    if (scope == 0 || scope > SCOPE_MAX_BYTES ||
        enterprise_name_utf8_length(request->business_scope) < 0)
        service_call_violation(call, "business_scope", "must be 1 to %d bytes of valid text",
                               SCOPE_MAX_BYTES);
    if (!s_industry_code_valid(request->industry_code))
        service_call_violation(call, "industry_code",
                               "must be a GB/T 4754 code: a letter A-T and 2 to 4 digits, e.g. "
                               "I6513");
    if (request->n_founders < 1 || request->n_founders > FOUNDERS_MAX)
        service_call_violation(call, "founders", "must list 1 to %d founders", FOUNDERS_MAX);
    int64_t subscribed = 0;
    for (size_t i = 0; i < request->n_founders && i < FOUNDERS_MAX; i++) {
        const Chuang__Registry__Founder *founder = request->founders[i];
        char path[64];
        snprintf(path, sizeof path, "founders[%zu].person", i);
        s_check_person(call, path, founder->person);
        for (size_t c = 0; c < founder->n_categories; c++)
            if (founder->categories[c] < CHUANG__REGISTRY__FOUNDER_CATEGORY__GRADUATE ||
                founder->categories[c] >
                    CHUANG__REGISTRY__FOUNDER_CATEGORY__RETURNING_MIGRANT_WORKER) {
                snprintf(path, sizeof path, "founders[%zu].categories", i);
                service_call_violation(call, path, "holds an unknown category");
                break;
            }
        if (founder->subscribed_capital_fen < 0 ||
            founder->subscribed_capital_fen > CAPITAL_MAX_FEN) {
            snprintf(path, sizeof path, "founders[%zu].subscribed_capital_fen", i);
            service_call_violation(call, path, "must be between 0 and %lld fen", CAPITAL_MAX_FEN);
        } else {
            subscribed += founder->subscribed_capital_fen;
        }
    }
    bool company = request->entity_type == CHUANG__REGISTRY__ENTITY_TYPE__LIMITED_COMPANY ||
                   request->entity_type == CHUANG__REGISTRY__ENTITY_TYPE__JOINT_STOCK_COMPANY;
    if (company && subscribed != request->registered_capital_fen)
        service_call_violation(call, "founders",
                               "subscribe %" PRId64 " fen in all, but the registered capital is "
                               "%" PRId64 " fen",
                               subscribed, request->registered_capital_fen);
    s_check_address(call, "domicile", request->domicile);
    if (request->n_business_addresses > ADDRESSES_MAX)
        service_call_violation(call, "business_addresses", "may list at most %d addresses",
                               ADDRESSES_MAX);
    for (size_t i = 0; i < request->n_business_addresses && i < ADDRESSES_MAX; i++) {
        char path[64];
        snprintf(path, sizeof path, "business_addresses[%zu]", i);
        s_check_address(call, path, request->business_addresses[i]);
    }
}

Chuang__Status handle_register(service_call_t *call, const ProtobufCMessage *input,
                               ProtobufCMessage *output)
{
    const Chuang__Registry__RegisterRequest *request =
        (const Chuang__Registry__RegisterRequest *)input;
    const char *agency = service_call_header(call)->agency;
    PGconn *db = service_call_db(call);
    s_check_register(call, request);
    if (service_call_has_violations(call))
        return CHUANG__STATUS__INVALID_ARGUMENT;

    store_reservation_t reservation;
    int found = store_reservation_lock(db, agency, request->reservation_id, &reservation);
    if (found < 0)
        return service_call_sql_fail(call, NULL, "read reservation");
    if (found == 0)
        return service_call_fail(call, CHUANG__STATUS__NOT_FOUND, "no such name reservation",
                                 "This agency has no name reservation with that id.",
                                 "Reserve the name first, and use the id it returns.");
    if (!streq(reservation.status, "reserved")) {
        service_call_violation(call, "reservation_id", "was already used for a registration");
        return service_call_fail(call, CHUANG__STATUS__FAILED_PRECONDITION,
                                 "name reservation already used", NULL, NULL);
    }
    if (reservation.expired) {
        service_call_violation(call, "reservation_id", "expired on %s; reserve the name again",
                               reservation.expires_on);
        return service_call_fail(call, CHUANG__STATUS__FAILED_PRECONDITION,
                                 "name reservation expired", NULL, NULL);
    }
    if (!service_call_has_role(call, "officer") &&
        !service_call_is_person(call, reservation.applicant_id_number))
        return service_call_fail(call, CHUANG__STATUS__PERMISSION_DENIED, "not your reservation",
                                 "Only the person who reserved the name, or an officer, may "
                                 "register an entity under it.",
                                 NULL);
    if (!s_form_fits(request->entity_type, reservation.form)) {
        service_call_violation(call, "entity_type", "does not fit the reserved name's form %s",
                               reservation.form);
        return CHUANG__STATUS__INVALID_ARGUMENT;
    }

    /* The credit code: authority 9 (market regulation), the type code, the
     * agency's division, and an organisation code from this registry's
     * sequence, written in the credit-code alphabet. */
    long long number = 0;
    if (store_next_organisation_number(db, &number) != 0)
        return service_call_sql_fail(call, NULL, "organisation number");
    char body[9];
    for (int i = 7; i >= 0; i--) {
        body[i] = s_alphabet[number % 31];
        number /= 31;
    }
    body[8] = '\0';
    char credit_code[19];
    if (identifiers_uscc_make('9', s_type_code(request->entity_type), agency, body, credit_code) !=
        0)
        return service_call_fail(call, CHUANG__STATUS__INTERNAL, "cannot assign a credit code",
                                 "The organisation number range is exhausted.", NULL);
    if (store_entity_add(db, agency, credit_code, &reservation, request) != 0)
        return service_call_sql_fail(call, NULL, "add entity");

    Chuang__Registry__Entity *entity = (Chuang__Registry__Entity *)output;
    if (store_entity_load(db, call, credit_code, NULL, entity) != 1)
        return service_call_sql_fail(call, NULL, "read entity");
    return service_call_emit(call, "registry.EntityRegistered", credit_code,
                             CHUANG__VISIBILITY__VISIBILITY_AGENCIES, output);
}

/* Loads an entity of the request's agency; another agency's entities do
 * not exist for the caller. */
static Chuang__Status s_load(service_call_t *call, const char *credit_code, const char *name,
                             Chuang__Registry__Entity *entity)
{
    int found = store_entity_load(service_call_db(call), call, credit_code, name, entity);
    if (found < 0)
        return service_call_sql_fail(call, NULL, "read entity");
    if (found == 0 || !streq(entity->registration_agency, service_call_header(call)->agency))
        return service_call_fail(call, CHUANG__STATUS__NOT_FOUND, "no such entity", NULL, NULL);
    return CHUANG__STATUS__OK;
}

/* OK when the caller may act on the entity ref describes: an officer, or
 * the person who is its legal representative or reserved its name. */
static Chuang__Status s_owner_or_officer(service_call_t *call, const store_entity_ref_t *ref)
{
    if (service_call_has_role(call, "officer") ||
        service_call_is_person(call, ref->legal_rep_id_number) ||
        service_call_is_person(call, ref->applicant_id_number))
        return CHUANG__STATUS__OK;
    return service_call_fail(call, CHUANG__STATUS__PERMISSION_DENIED, "not your entity",
                             "Only the entity's legal representative, the person who reserved "
                             "its name, or an officer may do this.",
                             NULL);
}

/* The entity's status, agency and owners, its row locked for the request
 * when it is to change. Answers NOT_FOUND when there is none in the
 * request's agency, and PERMISSION_DENIED when owner_only and the caller is
 * neither an officer nor one of its owners. */
static Chuang__Status s_entity_ref(service_call_t *call, const char *credit_code, bool for_update,
                                   bool owner_only, store_entity_ref_t *ref)
{
    int found = store_entity_ref(service_call_db(call), credit_code, for_update, ref);
    if (found < 0)
        return service_call_sql_fail(call, NULL, "read entity");
    if (found == 0 || !streq(ref->agency, service_call_header(call)->agency))
        return service_call_fail(call, CHUANG__STATUS__NOT_FOUND, "no such entity", NULL, NULL);
    return owner_only ? s_owner_or_officer(call, ref) : CHUANG__STATUS__OK;
}

Chuang__Status handle_get_entity(service_call_t *call, const ProtobufCMessage *input,
                                 ProtobufCMessage *output)
{
    const Chuang__Registry__GetEntityRequest *request =
        (const Chuang__Registry__GetEntityRequest *)input;
    char reason[128];
    if (identifiers_uscc_check(request->credit_code, reason, sizeof reason) != 0)
        return service_call_violation(call, "credit_code", "%s", reason);
    store_entity_ref_t ref;
    Chuang__Status allowed = s_entity_ref(call, request->credit_code, false, true, &ref);
    if (allowed != CHUANG__STATUS__OK)
        return allowed;
    return s_load(call, request->credit_code, NULL, (Chuang__Registry__Entity *)output);
}

static void *s_call_alloc(void *call, size_t size)
{
    return service_call_alloc(call, size);
}

/* Masks the entity's personal data (personal.h) for the public. */
static void s_mask_entity(service_call_t *call, Chuang__Registry__Entity *entity)
{
    personal_mask(&entity->base, s_call_alloc, call);
}

Chuang__Status handle_lookup(service_call_t *call, const ProtobufCMessage *input,
                             ProtobufCMessage *output)
{
    const Chuang__Registry__LookupRequest *request = (const Chuang__Registry__LookupRequest *)input;
    Chuang__Registry__Entity *entity = (Chuang__Registry__Entity *)output;
    char reason[128];
    if (!*request->credit_code && !*request->name)
        return service_call_violation(call, "credit_code", "or name is required");
    if (*request->credit_code &&
        identifiers_uscc_check(request->credit_code, reason, sizeof reason) != 0)
        return service_call_violation(call, "credit_code", "%s", reason);
    if (!*request->credit_code && (enterprise_name_utf8_length(request->name) < 0 ||
                                   strlen(request->name) > REGION_QUERY_MAX))
        return service_call_violation(call, "name", "must be at most %d bytes of valid text",
                                      REGION_QUERY_MAX);
    Chuang__Status status =
        s_load(call, *request->credit_code ? request->credit_code : NULL, request->name, entity);
    if (status != CHUANG__STATUS__OK)
        return status;
    s_mask_entity(call, entity);
    return CHUANG__STATUS__OK;
}

/* Checks a credit code field; records a violation and returns false when
 * it is not one. */
static bool s_credit_code_valid(service_call_t *call, const char *field, const char *code)
{
    char reason[128];
    if (identifiers_uscc_check(code, reason, sizeof reason) == 0)
        return true;
    service_call_violation(call, field, "%s", reason);
    return false;
}

static bool s_list_valid(service_call_t *call, const char *list)
{
    if (streq(list, "abnormal") || streq(list, "dishonest"))
        return true;
    service_call_violation(call, "list", "must be \"abnormal\" or \"dishonest\"");
    return false;
}

static bool s_text_valid(service_call_t *call, const char *field, const char *text, size_t max)
{
    if (*text && strlen(text) <= max && enterprise_name_utf8_length(text) > 0)
        return true;
    service_call_violation(call, field, "must be 1 to %zu bytes of valid text", max);
    return false;
}

#define REASON_MAX_BYTES 1000

Chuang__Status handle_add_to_list(service_call_t *call, const ProtobufCMessage *input,
                                  ProtobufCMessage *output)
{
    const Chuang__Registry__AddToListRequest *request =
        (const Chuang__Registry__AddToListRequest *)input;
    s_credit_code_valid(call, "credit_code", request->credit_code);
    s_list_valid(call, request->list);
    s_text_valid(call, "reason", request->reason, REASON_MAX_BYTES);
    s_text_valid(call, "authority", request->authority, 200);
    if (service_call_has_violations(call))
        return CHUANG__STATUS__INVALID_ARGUMENT;
    store_entity_ref_t ref;
    Chuang__Status found = s_entity_ref(call, request->credit_code, true, false, &ref);
    if (found != CHUANG__STATUS__OK)
        return found;
    int added =
        store_listing_add(service_call_db(call), call, request->credit_code, request->list,
                          request->reason, request->authority, (Chuang__Registry__Listing *)output);
    if (added < 0)
        return service_call_sql_fail(call, NULL, "add listing");
    if (added == 0)
        return service_call_fail(call, CHUANG__STATUS__ALREADY_EXISTS, "already on that list", NULL,
                                 "Remove the open listing first to list it anew.");
    return service_call_emit(call,
                             streq(request->list, "abnormal") ? "registry.ListedAbnormal"
                                                              : "registry.ListedDishonest",
                             request->credit_code, CHUANG__VISIBILITY__VISIBILITY_PUBLIC, output);
}

Chuang__Status handle_remove_from_list(service_call_t *call, const ProtobufCMessage *input,
                                       ProtobufCMessage *output)
{
    const Chuang__Registry__RemoveFromListRequest *request =
        (const Chuang__Registry__RemoveFromListRequest *)input;
    s_credit_code_valid(call, "credit_code", request->credit_code);
    s_list_valid(call, request->list);
    s_text_valid(call, "reason", request->reason, REASON_MAX_BYTES);
    if (service_call_has_violations(call))
        return CHUANG__STATUS__INVALID_ARGUMENT;
    store_entity_ref_t ref;
    Chuang__Status found = s_entity_ref(call, request->credit_code, true, false, &ref);
    if (found != CHUANG__STATUS__OK)
        return found;
    int removed =
        store_listing_remove(service_call_db(call), call, request->credit_code, request->list,
                             request->reason, (Chuang__Registry__Listing *)output);
    if (removed < 0)
        return service_call_sql_fail(call, NULL, "remove listing");
    if (removed == 0)
        return service_call_fail(call, CHUANG__STATUS__NOT_FOUND, "not on that list", NULL, NULL);
    return service_call_emit(call,
                             streq(request->list, "abnormal") ? "registry.RemovedAbnormal"
                                                              : "registry.RemovedDishonest",
                             request->credit_code, CHUANG__VISIBILITY__VISIBILITY_PUBLIC, output);
}

Chuang__Status handle_get_credit_standing(service_call_t *call, const ProtobufCMessage *input,
                                          ProtobufCMessage *output)
{
    const Chuang__Registry__CreditStandingRequest *request =
        (const Chuang__Registry__CreditStandingRequest *)input;
    Chuang__Registry__CreditStanding *standing = (Chuang__Registry__CreditStanding *)output;
    if (!s_credit_code_valid(call, "credit_code", request->credit_code))
        return CHUANG__STATUS__INVALID_ARGUMENT;
    store_entity_ref_t ref;
    Chuang__Status found = s_entity_ref(call, request->credit_code, false, false, &ref);
    if (found != CHUANG__STATUS__OK)
        return found;
    if (store_listings_open(service_call_db(call), call, request->credit_code, standing) < 0)
        return service_call_sql_fail(call, NULL, "read listings");
    standing->credit_code = request->credit_code;
    standing->standing = "good";
    for (size_t i = 0; i < standing->n_listings; i++) {
        if (streq(standing->listings[i]->list, "dishonest"))
            standing->standing = "dishonest";
        else if (!streq(standing->standing, "dishonest"))
            standing->standing = "abnormal";
    }
    return CHUANG__STATUS__OK;
}

Chuang__Status handle_file_annual_report(service_call_t *call, const ProtobufCMessage *input,
                                         ProtobufCMessage *output)
{
    const Chuang__Registry__FileAnnualReportRequest *request =
        (const Chuang__Registry__FileAnnualReportRequest *)input;
    Chuang__Registry__AnnualReport *report = (Chuang__Registry__AnnualReport *)output;
    int this_year = s_today(call) / 10000;
    s_credit_code_valid(call, "credit_code", request->credit_code);
    if (request->year < 2000 || request->year >= this_year)
        service_call_violation(call, "year", "must be a past year from 2000 to %d", this_year - 1);
    if (request->employees < 0)
        service_call_violation(call, "employees", "must not be negative");
    if (request->revenue_fen < 0 || request->revenue_fen > CAPITAL_MAX_FEN)
        service_call_violation(call, "revenue_fen", "must be between 0 and %lld fen",
                               CAPITAL_MAX_FEN);
    if (service_call_has_violations(call))
        return CHUANG__STATUS__INVALID_ARGUMENT;
    store_entity_ref_t ref;
    Chuang__Status found = s_entity_ref(call, request->credit_code, true, true, &ref);
    if (found != CHUANG__STATUS__OK)
        return found;
    if (!streq(ref.status, "registered"))
        return service_call_fail(call, CHUANG__STATUS__FAILED_PRECONDITION,
                                 "entity is deregistered", NULL, NULL);
    PGconn *db = service_call_db(call);
    int added = store_annual_report_add(db, request, &report->filed_at_ms);
    if (added < 0)
        return service_call_sql_fail(call, NULL, "add annual report");
    if (added == 0) {
        service_call_violation(call, "year", "the report for %d is already filed", request->year);
        return service_call_fail(call, CHUANG__STATUS__ALREADY_EXISTS,
                                 "annual report already filed", NULL, NULL);
    }
    report->credit_code = request->credit_code;
    report->year = request->year;
    report->employees = request->employees;
    report->revenue_fen = request->revenue_fen;

    /* A late report takes the entity off the abnormal list the missing one
     * put it on. */
    Chuang__Registry__CreditStanding standing = CHUANG__REGISTRY__CREDIT_STANDING__INIT;
    if (store_listings_open(db, call, request->credit_code, &standing) < 0)
        return service_call_sql_fail(call, NULL, "read listings");
    char expected[96];
    snprintf(expected, sizeof expected, "annual report for %d not filed", request->year);
    for (size_t i = 0; i < standing.n_listings; i++) {
        if (!streq(standing.listings[i]->list, "abnormal") ||
            strncmp(standing.listings[i]->reason, expected, strlen(expected)) != 0)
            continue;
        Chuang__Registry__Listing *removed = service_call_alloc(call, sizeof *removed);
        chuang__registry__listing__init(removed);
        if (store_listing_remove(db, call, request->credit_code, "abnormal",
                                 "annual report filed late", removed) < 0)
            return service_call_sql_fail(call, NULL, "remove listing");
        Chuang__Status emitted =
            service_call_emit(call, "registry.RemovedAbnormal", request->credit_code,
                              CHUANG__VISIBILITY__VISIBILITY_PUBLIC, &removed->base);
        if (emitted != CHUANG__STATUS__OK)
            return emitted;
        report->removed_from_abnormal = true;
    }
    return service_call_emit(call, "registry.AnnualReportFiled", request->credit_code,
                             CHUANG__VISIBILITY__VISIBILITY_PUBLIC, output);
}

/* Copies a deregistration row into its message (memory from call). */
static void s_deregistration_message(service_call_t *call, const store_deregistration_t *row,
                                     Chuang__Registry__Deregistration *message)
{
    message->credit_code = service_call_strdup(call, row->credit_code);
    message->status = service_call_strdup(call, row->status);
    message->applied_at_ms = row->applied_at_ms;
    message->notice_ends_at_ms = row->notice_ends_at_ms;
    message->decided_at_ms = row->decided_at_ms;
    message->objections = row->objections;
}

Chuang__Status handle_apply_deregistration(service_call_t *call, const ProtobufCMessage *input,
                                           ProtobufCMessage *output)
{
    const Chuang__Registry__DeregistrationRequest *request =
        (const Chuang__Registry__DeregistrationRequest *)input;
    if (!s_credit_code_valid(call, "credit_code", request->credit_code))
        return CHUANG__STATUS__INVALID_ARGUMENT;
    store_entity_ref_t ref;
    Chuang__Status found = s_entity_ref(call, request->credit_code, true, true, &ref);
    if (found != CHUANG__STATUS__OK)
        return found;
    PGconn *db = service_call_db(call);
    if (!streq(ref.status, "registered"))
        return service_call_fail(call, CHUANG__STATUS__FAILED_PRECONDITION,
                                 "entity is already deregistered", NULL, NULL);
    Chuang__Registry__CreditStanding standing = CHUANG__REGISTRY__CREDIT_STANDING__INIT;
    if (store_listings_open(db, call, request->credit_code, &standing) < 0)
        return service_call_sql_fail(call, NULL, "read listings");
    for (size_t i = 0; i < standing.n_listings; i++)
        if (streq(standing.listings[i]->list, "dishonest"))
            return service_call_fail(
                call, CHUANG__STATUS__FAILED_PRECONDITION,
                "entity is on the serious-violation list",
                "Simplified deregistration is not open to an entity on the serious-violation "
                "list.",
                "Apply for an ordinary deregistration, or have the listing removed first.");
    long long days = 0;
    int ruled =
        store_rule(db, service_call_header(call)->agency, "deregistration_notice_days", &days);
    if (ruled < 0)
        return service_call_sql_fail(call, NULL, "notice period rule");
    if (ruled == 0 || days < 0)
        return service_call_fail(call, CHUANG__STATUS__FAILED_PRECONDITION,
                                 "no notice period in force", NULL,
                                 "An operator must add the deregistration_notice_days rule.");
    store_deregistration_t row;
    int opened = store_deregistration_open(db, request->credit_code, days, &row);
    if (opened < 0)
        return service_call_sql_fail(call, NULL, "open deregistration");
    if (opened == 0)
        return service_call_fail(call, CHUANG__STATUS__ALREADY_EXISTS,
                                 "a deregistration is already under way", NULL, NULL);
    s_deregistration_message(call, &row, (Chuang__Registry__Deregistration *)output);
    return service_call_emit(call, "registry.DeregistrationNoticed", request->credit_code,
                             CHUANG__VISIBILITY__VISIBILITY_PUBLIC, output);
}

Chuang__Status handle_object_to_deregistration(service_call_t *call, const ProtobufCMessage *input,
                                               ProtobufCMessage *output)
{
    const Chuang__Registry__ObjectionRequest *request =
        (const Chuang__Registry__ObjectionRequest *)input;
    s_credit_code_valid(call, "credit_code", request->credit_code);
    s_text_valid(call, "objector", request->objector, 200);
    s_text_valid(call, "reason", request->reason, REASON_MAX_BYTES);
    if (service_call_has_violations(call))
        return CHUANG__STATUS__INVALID_ARGUMENT;
    store_entity_ref_t ref;
    Chuang__Status known = s_entity_ref(call, request->credit_code, false, false, &ref);
    if (known != CHUANG__STATUS__OK)
        return known;
    PGconn *db = service_call_db(call);
    store_deregistration_t row;
    int found = store_deregistration_lock(db, request->credit_code, &row);
    if (found < 0)
        return service_call_sql_fail(call, NULL, "read deregistration");
    if (found == 0)
        return service_call_fail(call, CHUANG__STATUS__NOT_FOUND, "no deregistration to object to",
                                 NULL, NULL);
    if (!streq(row.status, "noticed") || row.notice_over) {
        service_call_violation(call, "credit_code", "its deregistration notice has ended");
        return service_call_fail(call, CHUANG__STATUS__FAILED_PRECONDITION, "notice period ended",
                                 "Objections are taken only during the public notice.", NULL);
    }
    if (store_objection_add(db, request->credit_code, request->objector, request->reason) != 0 ||
        store_deregistration_lock(db, request->credit_code, &row) != 1)
        return service_call_sql_fail(call, NULL, "add objection");
    s_deregistration_message(call, &row, (Chuang__Registry__Deregistration *)output);
    return service_call_emit(call, "registry.DeregistrationObjected", request->credit_code,
                             CHUANG__VISIBILITY__VISIBILITY_PUBLIC, output);
}

Chuang__Status handle_get_deregistration(service_call_t *call, const ProtobufCMessage *input,
                                         ProtobufCMessage *output)
{
    const Chuang__Registry__DeregistrationRequest *request =
        (const Chuang__Registry__DeregistrationRequest *)input;
    if (!s_credit_code_valid(call, "credit_code", request->credit_code))
        return CHUANG__STATUS__INVALID_ARGUMENT;
    store_entity_ref_t ref;
    Chuang__Status known = s_entity_ref(call, request->credit_code, false, false, &ref);
    if (known != CHUANG__STATUS__OK)
        return known;
    store_deregistration_t row;
    int found = store_deregistration_lock(service_call_db(call), request->credit_code, &row);
    if (found < 0)
        return service_call_sql_fail(call, NULL, "read deregistration");
    if (found == 0)
        return service_call_fail(call, CHUANG__STATUS__NOT_FOUND, "no deregistration", NULL, NULL);
    s_deregistration_message(call, &row, (Chuang__Registry__Deregistration *)output);
    return CHUANG__STATUS__OK;
}

/* The agency's licence signing key, loaded at start-up (read-only after). */
static agency_key_t *s_licence_key;

int handlers_init(config_t *config)
{
    const char *path = config_str(config, "registry.licence_key", NULL);
    if (!path) {
        log_warn("registry.licence_key is not set; licences cannot be issued", NULL);
        return 0;
    }
    char reason[160];
    s_licence_key = agency_key_load(path, reason, sizeof reason);
    if (!s_licence_key) {
        log_error("cannot load the licence signing key", "path=%s reason=\"%s\"", path, reason);
        return -1;
    }
    log_info("licence signing key loaded", "key_id=%s", agency_key_id(s_licence_key));
    return 0;
}

void handlers_fini(void)
{
    agency_key_destroy(&s_licence_key);
}

Chuang__Status handle_issue_licence(service_call_t *call, const ProtobufCMessage *input,
                                    ProtobufCMessage *output)
{
    const Chuang__Registry__GetEntityRequest *request =
        (const Chuang__Registry__GetEntityRequest *)input;
    Chuang__Registry__Licence *licence = (Chuang__Registry__Licence *)output;
    if (!s_credit_code_valid(call, "credit_code", request->credit_code))
        return CHUANG__STATUS__INVALID_ARGUMENT;
    if (!s_licence_key)
        return service_call_fail(call, CHUANG__STATUS__FAILED_PRECONDITION,
                                 "no licence signing key",
                                 "This registry has no signing key configured.",
                                 "An operator must set registry.licence_key.");
    store_entity_ref_t ref;
    Chuang__Status allowed = s_entity_ref(call, request->credit_code, false, true, &ref);
    if (allowed != CHUANG__STATUS__OK)
        return allowed;
    Chuang__Registry__Entity entity = CHUANG__REGISTRY__ENTITY__INIT;
    Chuang__Status status = s_load(call, request->credit_code, NULL, &entity);
    if (status != CHUANG__STATUS__OK)
        return status;
    if (!streq(entity.status, "registered"))
        return service_call_fail(call, CHUANG__STATUS__FAILED_PRECONDITION,
                                 "entity is deregistered", NULL, NULL);

    const ProtobufCEnumValue *type = protobuf_c_enum_descriptor_get_value(
        &chuang__registry__entity_type__descriptor, (int)entity.entity_type);
    char capital[24], issued_at[32];
    snprintf(capital, sizeof capital, "%" PRId64, entity.registered_capital_fen);
    time_t now = time(NULL);
    struct tm tm;
    gmtime_r(&now, &tm);
    strftime(issued_at, sizeof issued_at, "%Y-%m-%dT%H:%M:%SZ", &tm);
    char *domicile = service_call_alloc(call, strlen(entity.domicile->detail) + 16);
    sprintf(domicile, "%s %s", entity.domicile->division_code, entity.domicile->detail);

    licence->credit_code = entity.credit_code;
    licence->name = entity.name;
    licence->entity_type = service_call_strdup(call, type ? type->name : "");
    licence->legal_representative = entity.legal_representative->name;
    licence->registered_capital_fen = service_call_strdup(call, capital);
    licence->business_scope = entity.business_scope;
    licence->domicile = domicile;
    licence->registered_on = entity.registered_on;
    licence->issuing_agency = entity.registration_agency;
    licence->issued_at = service_call_strdup(call, issued_at);
    licence->key_id = (char *)agency_key_id(s_licence_key);
    licence->signature = service_call_alloc(call, LICENCE_SIGNATURE_HEX_SIZE);
    licence_fields_t fields = licence_fields_of(licence);
    if (licence_sign(s_licence_key, &fields, licence->signature) != 0)
        return service_call_fail(call, CHUANG__STATUS__INTERNAL, "cannot sign the licence",
                                 "A licence field is not valid text.", NULL);
    return CHUANG__STATUS__OK;
}

Chuang__Status handle_verify_licence(service_call_t *call, const ProtobufCMessage *input,
                                     ProtobufCMessage *output)
{
    const Chuang__Registry__Licence *licence = (const Chuang__Registry__Licence *)input;
    Chuang__Registry__LicenceVerification *verification =
        (Chuang__Registry__LicenceVerification *)output;
    if (!s_licence_key)
        return service_call_fail(call, CHUANG__STATUS__FAILED_PRECONDITION,
                                 "no licence signing key", NULL,
                                 "An operator must set registry.licence_key.");
    char reason[160];
    licence_fields_t fields = licence_fields_of(licence);
    verification->valid =
        licence_verify(&fields, licence->signature, agency_key_public_hex(s_licence_key), reason,
                       sizeof reason) == 0;
    verification->reason = verification->valid ? "" : service_call_strdup(call, reason);
    verification->entity_status = "unknown";
    store_entity_ref_t ref;
    if (identifiers_uscc_check(licence->credit_code, NULL, 0) == 0) {
        int found = store_entity_ref(service_call_db(call), licence->credit_code, false, &ref);
        if (found < 0)
            return service_call_sql_fail(call, NULL, "read entity");
        if (found)
            verification->entity_status = service_call_strdup(call, ref.status);
    }
    return CHUANG__STATUS__OK;
}

/* Adds one field change to the reply (memory from call). */
static void s_change_add(service_call_t *call, Chuang__Registry__EntityChange *change,
                         const char *field, const char *old_value, const char *new_value)
{
    Chuang__Registry__FieldChange *item = service_call_alloc(call, sizeof *item);
    chuang__registry__field_change__init(item);
    item->field = service_call_strdup(call, field);
    item->old_value = service_call_strdup(call, old_value);
    item->new_value = service_call_strdup(call, new_value);
    change->changes[change->n_changes++] = item;
}

#define TRACKED_FIELDS_MAX 8

/* Renames the entity to the name the request's reservation holds: the
 * reservation must be this agency's, live, unused, and of a form that fits
 * the entity's type. */
static Chuang__Status s_rename(service_call_t *call,
                               const Chuang__Registry__ChangeEntityRequest *request,
                               Chuang__Registry__EntityChange *change, char *old_value, size_t size)
{
    PGconn *db = service_call_db(call);
    store_reservation_t reservation;
    int found = store_reservation_lock(db, service_call_header(call)->agency,
                                       request->name_reservation_id, &reservation);
    if (found < 0)
        return service_call_sql_fail(call, NULL, "read reservation");
    if (found == 0)
        return service_call_fail(call, CHUANG__STATUS__NOT_FOUND, "no such name reservation",
                                 "This agency has no name reservation with that id.", NULL);
    if (!streq(reservation.status, "reserved") || reservation.expired) {
        service_call_violation(call, "name_reservation_id", "is %s; reserve the name again",
                               reservation.expired ? "expired" : "already used");
        return service_call_fail(call, CHUANG__STATUS__FAILED_PRECONDITION,
                                 "name reservation not usable", NULL, NULL);
    }
    Chuang__Registry__Entity entity = CHUANG__REGISTRY__ENTITY__INIT;
    if (store_entity_load(db, call, request->credit_code, NULL, &entity) != 1)
        return service_call_sql_fail(call, NULL, "read entity");
    if (!s_form_fits(entity.entity_type, reservation.form)) {
        service_call_violation(call, "name_reservation_id",
                               "holds the form %s, which does not fit this entity's type",
                               reservation.form);
        return CHUANG__STATUS__INVALID_ARGUMENT;
    }
    int renamed = store_entity_rename(db, request->credit_code, request->name_reservation_id,
                                      &reservation, old_value, size);
    if (renamed < 0)
        return service_call_sql_fail(call, NULL, "rename entity");
    if (renamed)
        s_change_add(call, change, "name", old_value, reservation.name);
    return CHUANG__STATUS__OK;
}

Chuang__Status handle_change_entity(service_call_t *call, const ProtobufCMessage *input,
                                    ProtobufCMessage *output)
{
    const Chuang__Registry__ChangeEntityRequest *request =
        (const Chuang__Registry__ChangeEntityRequest *)input;
    Chuang__Registry__EntityChange *change = (Chuang__Registry__EntityChange *)output;
    s_credit_code_valid(call, "credit_code", request->credit_code);
    if (request->legal_representative)
        s_check_person(call, "legal_representative", request->legal_representative);
    if (request->registered_capital && (request->registered_capital->fen < 0 ||
                                        request->registered_capital->fen > CAPITAL_MAX_FEN))
        service_call_violation(call, "registered_capital.fen", "must be between 0 and %lld fen",
                               CAPITAL_MAX_FEN);
    if (*request->business_scope)
        s_text_valid(call, "business_scope", request->business_scope, SCOPE_MAX_BYTES);
    if (*request->industry_code && !s_industry_code_valid(request->industry_code))
        service_call_violation(call, "industry_code",
                               "must be a GB/T 4754 code: a letter A-T and 2 to 4 digits");
    if (request->domicile)
        s_check_address(call, "domicile", request->domicile);
    if (*request->name_reservation_id && !s_uuid_shaped(request->name_reservation_id))
        service_call_violation(call, "name_reservation_id", "is not a reservation id");
    if (service_call_has_violations(call))
        return CHUANG__STATUS__INVALID_ARGUMENT;

    store_entity_ref_t ref;
    Chuang__Status found = s_entity_ref(call, request->credit_code, true, true, &ref);
    if (found != CHUANG__STATUS__OK)
        return found;
    if (!streq(ref.status, "registered"))
        return service_call_fail(call, CHUANG__STATUS__FAILED_PRECONDITION,
                                 "entity is deregistered", NULL, NULL);

    PGconn *db = service_call_db(call);
    change->changes = service_call_alloc(call, TRACKED_FIELDS_MAX * sizeof *change->changes);
    char old_value[SCOPE_MAX_BYTES + 1];
    if (*request->name_reservation_id) {
        Chuang__Status renamed = s_rename(call, request, change, old_value, sizeof old_value);
        if (renamed != CHUANG__STATUS__OK)
            return renamed;
    }
    char capital[24] = "";
    if (request->registered_capital)
        snprintf(capital, sizeof capital, "%" PRId64, request->registered_capital->fen);
    const Chuang__Registry__Person *rep = request->legal_representative;
    const struct {
        const char *field;
        const char *value; /* NULL: not asked to change */
    } fields[] = {
        {"legal_representative.name", rep ? rep->name : NULL},
        {"legal_representative.id_number", rep ? rep->id_number : NULL},
        {"legal_representative.phone", rep ? rep->phone : NULL},
        {"registered_capital_fen", request->registered_capital ? capital : NULL},
        {"business_scope", *request->business_scope ? request->business_scope : NULL},
        {"industry_code", *request->industry_code ? request->industry_code : NULL},
    };
    for (size_t i = 0; i < sizeof fields / sizeof fields[0]; i++) {
        if (!fields[i].value)
            continue;
        int changed = store_entity_change(db, request->credit_code, fields[i].field,
                                          fields[i].value, old_value, sizeof old_value);
        if (changed < 0)
            return service_call_sql_fail(call, NULL, "change entity");
        if (changed)
            s_change_add(call, change, fields[i].field, old_value, fields[i].value);
    }
    if (request->domicile) {
        int changed = store_domicile_change(db, request->credit_code, request->domicile, old_value,
                                            sizeof old_value);
        if (changed < 0)
            return service_call_sql_fail(call, NULL, "change domicile");
        if (changed) {
            char *value =
                zsys_sprintf("%s %s", request->domicile->division_code, request->domicile->detail);
            s_change_add(call, change, "domicile", old_value, value);
            zstr_free(&value);
        }
    }
    if (change->n_changes == 0)
        return service_call_fail(call, CHUANG__STATUS__INVALID_ARGUMENT, "nothing to change",
                                 "Every value given is the one already registered.", NULL);
    change->credit_code = request->credit_code;
    change->changed_at_ms = zclock_time();
    return service_call_emit(call, "registry.EntityChanged", request->credit_code,
                             CHUANG__VISIBILITY__VISIBILITY_AGENCIES, output);
}

Chuang__Status handle_get_entity_as_of(service_call_t *call, const ProtobufCMessage *input,
                                       ProtobufCMessage *output)
{
    const Chuang__Registry__GetEntityAsOfRequest *request =
        (const Chuang__Registry__GetEntityAsOfRequest *)input;
    Chuang__Registry__Entity *entity = (Chuang__Registry__Entity *)output;
    s_credit_code_valid(call, "credit_code", request->credit_code);
    int year, month, day;
    char extra;
    if (sscanf(request->as_of, "%4d-%2d-%2d%c", &year, &month, &day, &extra) != 3 ||
        strlen(request->as_of) != 10 || month < 1 || month > 12 || day < 1 || day > 31 ||
        year < 1900)
        service_call_violation(call, "as_of", "must be a date written YYYY-MM-DD");
    if (service_call_has_violations(call))
        return CHUANG__STATUS__INVALID_ARGUMENT;
    int found = store_entity_as_of(service_call_db(call), call, request->credit_code,
                                   request->as_of, entity);
    if (found < 0)
        return service_call_sql_fail(call, NULL, "read history");
    if (found == 0)
        return service_call_fail(call, CHUANG__STATUS__NOT_FOUND, "not registered on that date",
                                 NULL, NULL);
    if (!service_call_has_role(call, "officer")) {
        s_mask_entity(call, entity);
    }
    return CHUANG__STATUS__OK;
}

#define SNAPSHOT_LIMIT_MAX 100
#define SNAPSHOT_DEFAULT   50

Chuang__Status handle_snapshot(service_call_t *call, const ProtobufCMessage *input,
                               ProtobufCMessage *output)
{
    const Chuang__Registry__SnapshotRequest *request =
        (const Chuang__Registry__SnapshotRequest *)input;
    Chuang__Registry__Snapshot *snapshot = (Chuang__Registry__Snapshot *)output;
    if (request->limit < 0 || request->limit > SNAPSHOT_LIMIT_MAX)
        return service_call_violation(call, "limit", "must be between 1 and %d",
                                      SNAPSHOT_LIMIT_MAX);
    if (strlen(request->after_credit_code) > 18)
        return service_call_violation(call, "after_credit_code", "is not a credit code");
    PGconn *db = service_call_db(call);
    /* One snapshot for the position and the rows. */
    if (db_exec(db, "snapshot isolation", "SET TRANSACTION ISOLATION LEVEL REPEATABLE READ") != 0 ||
        store_log_position(db, &snapshot->sequence) != 0)
        return service_call_sql_fail(call, NULL, "snapshot position");
    int limit = request->limit ? request->limit : SNAPSHOT_DEFAULT;
    char **codes = NULL;
    int count = store_entity_codes(db, call, request->after_credit_code, limit, &codes);
    if (count < 0)
        return service_call_sql_fail(call, NULL, "snapshot entities");
    snapshot->entities = service_call_alloc(call, ((size_t)count + 1) * sizeof *snapshot->entities);
    bool officer = service_call_has_role(call, "officer");
    for (int i = 0; i < count; i++) {
        Chuang__Registry__Entity *entity = service_call_alloc(call, sizeof *entity);
        chuang__registry__entity__init(entity);
        if (store_entity_load(db, call, codes[i], NULL, entity) != 1)
            return service_call_sql_fail(call, NULL, "snapshot entity");
        if (!officer) {
            s_mask_entity(call, entity);
        }
        snapshot->entities[snapshot->n_entities++] = entity;
    }
    snapshot->next_after = count == limit ? codes[count - 1] : "";
    return CHUANG__STATUS__OK;
}
