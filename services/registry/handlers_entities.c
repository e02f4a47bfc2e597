/*
 * handlers_entities.c - the registry's entity handlers: RegisterEntity,
 * GetEntity, Lookup, ChangeEntity, GetEntityAsOf and TakeSnapshot.
 *
 * Registration turns a live name reservation into an entity with a credit
 * code (GB 32100) made from this registry's organisation-number sequence
 * under the agency's division. A change to a tracked field keeps the old
 * value's period in the entity's history, which GetEntityAsOf reads back.
 * Lookup masks personal data (personal.h) for everyone, GetEntityAsOf and
 * TakeSnapshot for all but officers; GetEntity, open only to the entity's
 * owners and officers, does not. TakeSnapshot pages through the register
 * in credit-code order, with the event-log position its snapshot reflects.
 */
#include "handlers.h"
#include "handlers_private.h"
#include "checks.h"
#include "personal.h"
#include "enterprise_name.h"
#include "identifiers.h"
#include "db.h"
#include "store.h"

#include <czmq.h>

#define SCOPE_MAX_BYTES   4000
#define ADDRESS_MAX_BYTES 400

/* The credit-code alphabet (GB 32100), in which organisation numbers are
 * written. */
static const char s_alphabet[] = "0123456789ABCDEFGHJKLMNPQRTUWXY";

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
    if (identifiers_resident_id_check(person->id_number, handlers_today(call), reason,
                                      sizeof reason) != 0) {
        snprintf(field, sizeof field, "%s.id_number", path);
        service_call_violation(call, field, "is not a valid resident ID number: %s", reason);
    }
    if (!checks_mobile_valid(person->phone)) {
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

/* Checks everything in a registration that does not need the database,
 * recording a violation per offending field. */
static void s_check_register(service_call_t *call, const Chuang__Registry__RegisterRequest *request)
{
    handlers_agency_valid(call);
    if (!*request->reservation_id) {
        service_call_violation(call, "reservation_id", "is required: reserve the name first");
    } else if (!identifiers_uuid_shaped(request->reservation_id)) {
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
    int found = store_reservation_take(db, agency, request->reservation_id, &reservation);
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

Chuang__Status handle_get_entity(service_call_t *call, const ProtobufCMessage *input,
                                 ProtobufCMessage *output)
{
    const Chuang__Registry__GetEntityRequest *request =
        (const Chuang__Registry__GetEntityRequest *)input;
    char reason[128];
    if (identifiers_uscc_check(request->credit_code, reason, sizeof reason) != 0)
        return service_call_violation(call, "credit_code", "%s", reason);
    store_entity_ref_t ref;
    Chuang__Status allowed = handlers_entity_ref(call, request->credit_code, false, true, &ref);
    if (allowed != CHUANG__STATUS__OK)
        return allowed;
    return handlers_entity_load(call, request->credit_code, NULL,
                                (Chuang__Registry__Entity *)output);
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
    Chuang__Status status = handlers_entity_load(
        call, *request->credit_code ? request->credit_code : NULL, request->name, entity);
    if (status != CHUANG__STATUS__OK)
        return status;
    s_mask_entity(call, entity);
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
    int found = store_reservation_take(db, service_call_header(call)->agency,
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
    int renamed = store_entity_rename(db, request->credit_code, &reservation, old_value, size);
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
    handlers_credit_code_valid(call, "credit_code", request->credit_code);
    if (request->legal_representative)
        s_check_person(call, "legal_representative", request->legal_representative);
    if (request->registered_capital && (request->registered_capital->fen < 0 ||
                                        request->registered_capital->fen > CAPITAL_MAX_FEN))
        service_call_violation(call, "registered_capital.fen", "must be between 0 and %lld fen",
                               CAPITAL_MAX_FEN);
    if (*request->business_scope)
        handlers_text_valid(call, "business_scope", request->business_scope, SCOPE_MAX_BYTES);
    if (*request->industry_code && !s_industry_code_valid(request->industry_code))
        service_call_violation(call, "industry_code",
                               "must be a GB/T 4754 code: a letter A-T and 2 to 4 digits");
    if (request->domicile)
        s_check_address(call, "domicile", request->domicile);
    if (*request->name_reservation_id && !identifiers_uuid_shaped(request->name_reservation_id))
        service_call_violation(call, "name_reservation_id", "is not a reservation id");
    if (service_call_has_violations(call))
        return CHUANG__STATUS__INVALID_ARGUMENT;

    store_entity_ref_t ref;
    Chuang__Status found = handlers_entity_ref(call, request->credit_code, true, true, &ref);
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
    handlers_credit_code_valid(call, "credit_code", request->credit_code);
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
