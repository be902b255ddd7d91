/* SPDX-License-Identifier: MIT */
/* Umbrella header: every public native module of stratum-engine. */
#ifndef STRATUM_H
#define STRATUM_H

#include "st_error.h"
#include "st_cpu.h"
#include "st_sha256.h"
#include "st_hmac.h"
#include "st_random.h"
#include "st_bench.h"
#include "st_loop.h"
#include "st_conn.h"
#include "st_tls.h"
#include "st_ws.h"
#include "st_btc.h"
#include "st_strategy.h"
#include "st_mempool.h"
#include "st_order.h"
#include "st_risk.h"
#include "st_journal.h"
#include "st_histogram.h"
#include "st_desk.h"
#include "st_engine.h"

#endif
