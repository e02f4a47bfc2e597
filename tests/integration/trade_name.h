/*
 * trade_name.h - distinct valid trade names for tests and benchmarks that
 * reserve many names: the index written in base-42 digits, each digit a
 * common Chinese character of trade names (none of them a restricted word
 * such as 中 华 全 国 家 际 世 界), four digits long.
 */
#ifndef CHUANG_TRADE_NAME_H
#define CHUANG_TRADE_NAME_H

#include <stddef.h>

/* How many distinct names trade_name() writes (42^4, 3.1 million). */
#define TRADE_NAME_COUNT 3111696L

/* Writes the trade name of index (0 <= index < TRADE_NAME_COUNT) to out,
 * size bytes (at least 13). */
void trade_name(long index, char *out, size_t size);

#endif
