/*
 * trade_name.c - distinct valid trade names; see trade_name.h.
 */
#include "trade_name.h"

#include <assert.h>
#include <string.h>

static const char *const s_digits[] = {
    "云", "山", "水", "金", "木", "火", "土", "星", "月", "日", "光", "明", "新", "春",
    "秋", "东", "西", "南", "北", "海", "江", "河", "湖", "林", "森", "青", "蓝", "红",
    "白", "天", "地", "泰", "安", "和", "兴", "盛", "达", "通", "远", "宏", "瑞", "祥",
};
#define DIGITS ((long)(sizeof s_digits / sizeof s_digits[0]))

void trade_name(long index, char *out, size_t size)
{
    assert(index >= 0 && index < TRADE_NAME_COUNT && size >= 13);
    out[0] = '\0';
    for (int d = 0; d < 4; d++) {
        strncat(out, s_digits[index % DIGITS], size - strlen(out) - 1);
        index /= DIGITS;
    }
}
