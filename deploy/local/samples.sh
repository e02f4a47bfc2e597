# shellcheck shell=bash
# samples.sh - sample funds and programmes for a newly set-up local agency,
# sourced by deploy/local/chuang on the first "up" (data/etc/samples.done
# records that they were made; remove it to make them again). They follow
# the policy texts chuang was built for (docs: ../shared/policy/PROGRAMMES.md):
#
#   大朗镇 (town)    a special fund of ¥3,000,000 a year; the interest subsidy
#                    for graduates and returnees (the actual interest up to
#                    the reference rate + 300 bp, on at most ¥200,000 of a
#                    loan; nothing where a higher level subsidised the same
#                    period: 镇不再重复贴息); 50 % of the reference rate for
#                    micro-enterprises; a carrier's top-up of 0.5 × the single
#                    highest award a higher level made it.
#                    Innovation vouchers of ¥5,000 valid a year, only for
#                    services on the town's cloud platform (category cloud).
#   岳塘区 (district) a guarantee fund with the 10 % bad-debt reserve, topped up
#                    from the employment fund; guarantee loans certified by
#                    human resources and finance (人社 + 财政); the pre-listing
#                    pool's stage rewards, up to ¥100,000, each paid once
#                    across levels.
#   中山市 (city)     the incubation subsidy of at most ¥3,000 per household
#                    successfully incubated, paid to the recognised base
#                    (finance opens it from the incubator's graduation).
#
# Every number is a parameter of a dated version, as an agency would enter
# it; they are samples to look at and change, not anyone's policy in force.
# Needs ctl (deploy/local/chuang) and $agency.

samples_call() {
    local method=$1 body=$2 out
    if ! out=$(ctl call finance "$method" --agency "$agency" --roles finance-officer "$body" 2>&1); then
        printf 'chuang: sample %s failed: %s\n' "$method" "$out" >&2
        return 1
    fi
}

samples_make() {
    local year
    year=$(date +%Y)
    samples_call CreateFund '{"code": "dalang-special", "name": "大朗镇双创专项资金",
        "department": "finance"}' &&
    samples_call Appropriate '{"fund": "dalang-special", "amountFen": "300000000",
        "document": "大府〔2015〕9号", "memo": "'"$year"' 年度"}' &&
    samples_call CreateFund '{"code": "yuetang-guarantee", "name": "岳塘区创业担保基金",
        "department": "finance"}' &&
    samples_call Appropriate '{"fund": "yuetang-guarantee", "amountFen": "200000000",
        "document": "岳政办〔2016〕3号"}' &&
    samples_call CreateFund '{"code": "yuetang-employment", "name": "岳塘区就业专项资金",
        "department": "human_resources"}' &&
    samples_call Appropriate '{"fund": "yuetang-employment", "amountFen": "50000000",
        "document": "岳政办〔2016〕3号"}' &&
    samples_call DefineProgramme '{"code": "dalang-interest-graduates",
        "name": "大朗镇高校毕业生、留学回国人员创业贷款贴息", "kind": "interest_subsidy",
        "level": "town", "fund": "dalang-special", "department": "finance",
        "version": {"effectiveFrom": "'"$year"'-01-01", "trial": true,
          "document": "大府〔2015〕9号",
          "parameters": [{"name": "rate_above_reference_bp", "value": "300"},
                         {"name": "loan_cap_fen", "value": "20000000"},
                         {"name": "notice_days", "value": "7"}],
          "conditions": [{"fact": "founder_category", "test": "in",
                          "values": ["GRADUATE", "RETURNEE"]}],
          "awardRules": [{"rule": "exclude"}]}}' &&
    samples_call DefineProgramme '{"code": "dalang-interest-micro",
        "name": "大朗镇劳动密集型、科技型小微企业贷款贴息", "kind": "interest_subsidy",
        "level": "town", "fund": "dalang-special", "department": "finance",
        "version": {"effectiveFrom": "'"$year"'-01-01", "trial": true,
          "document": "大府〔2015〕9号",
          "parameters": [{"name": "reference_share_bp", "value": "5000"},
                         {"name": "loan_cap_fen", "value": "20000000"}],
          "awardRules": [{"rule": "exclude"}]}}' &&
    samples_call DefineProgramme '{"code": "dalang-carrier-top-up",
        "name": "大朗镇孵化载体配套奖励（上级最高奖励的 0.5 倍）", "kind": "matching",
        "level": "town", "fund": "dalang-special", "department": "science_technology",
        "version": {"effectiveFrom": "'"$year"'-01-01", "trial": true,
          "document": "大府〔2015〕9号",
          "awardRules": [{"rule": "top_up", "kind": "reward", "ratioBp": "5000",
                          "anySubject": true}]}}' &&
    samples_call DefineProgramme '{"code": "yuetang-guarantee-loan",
        "name": "岳塘区创业担保贷款", "kind": "guarantee_loan", "level": "district",
        "fund": "yuetang-guarantee", "department": "human_resources",
        "version": {"effectiveFrom": "'"$year"'-01-01", "document": "岳政办〔2016〕3号",
          "approvals": ["human_resources", "finance"],
          "parameters": [{"name": "reserve_bp", "value": "1000"},
                         {"name": "entity_limit_fen", "value": "30000000"},
                         {"name": "term_max_months_count", "value": "36"},
                         {"name": "rate_max_bp", "value": "800"},
                         {"name": "notice_days", "value": "5"}]}}' &&
    samples_call DefineProgramme '{"code": "dalang-innovation-voucher",
        "name": "大朗镇创新券（云平台服务）", "kind": "voucher", "level": "town",
        "fund": "dalang-special", "department": "science_technology",
        "version": {"effectiveFrom": "'"$year"'-01-01", "trial": true,
          "document": "大府〔2015〕9号", "approvals": ["science_technology"],
          "parameters": [{"name": "face_value_fen", "value": "500000"},
                         {"name": "validity_days", "value": "365"},
                         {"name": "notice_days", "value": "5"}],
          "serviceCategories": ["cloud"]}}' &&
    samples_call DefineProgramme '{"code": "yuetang-listing-stages",
        "name": "岳塘区企业上市分阶段奖励", "kind": "listing_reward", "level": "district",
        "fund": "yuetang-employment", "department": "finance",
        "version": {"effectiveFrom": "'"$year"'-01-01", "document": "岳政办〔2016〕3号",
          "approvals": ["finance"],
          "parameters": [{"name": "shareholding_reform_fen", "value": "3000000"},
                         {"name": "counselling_filing_fen", "value": "3000000"},
                         {"name": "application_accepted_fen", "value": "10000000"},
                         {"name": "listed_fen", "value": "10000000"},
                         {"name": "notice_days", "value": "5"}],
          "awardRules": [{"rule": "exclude",
                          "levels": ["town", "district", "city", "province", "national"]}]}}' &&
    samples_call CreateFund '{"code": "zhongshan-startup", "name": "中山市创业扶持资金",
        "department": "human_resources"}' &&
    samples_call DefineProgramme '{"code": "zhongshan-incubation-subsidy",
        "name": "中山市创业孵化补贴", "kind": "incubation_subsidy", "level": "city",
        "fund": "zhongshan-startup", "department": "human_resources",
        "version": {"effectiveFrom": "'"$year"'-01-01", "document": "中府〔2015〕76号",
          "approvals": ["human_resources"],
          "parameters": [{"name": "per_graduate_fen", "value": "300000"},
                         {"name": "notice_days", "value": "5"}]}}'
}
