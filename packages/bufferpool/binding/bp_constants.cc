// bp_constants.cc - the constants of dbos/bufferpool.h that the TypeScript layer checks against.
#include "bp_binding.h"

namespace dbos {

static void SetNumber(Napi::Object exports, const char *name, double value)
{
	exports.Set(name, Napi::Number::New(exports.Env(), value));
}

void InitConstants(Napi::Env env, Napi::Object exports)
{
	(void)env;
	SetNumber(exports, "flagCreate", DBOS_BP_CREATE);
	SetNumber(exports, "flagBuffered", DBOS_BP_BUFFERED);
	SetNumber(exports, "flagReadOnly", DBOS_BP_READ_ONLY);
	SetNumber(exports, "pageSizeDefault", DBOS_BP_PAGE_SIZE_DEFAULT);
	SetNumber(exports, "pageSizeMin", DBOS_BP_PAGE_SIZE_MIN);
	SetNumber(exports, "pageSizeMax", DBOS_BP_PAGE_SIZE_MAX);
	SetNumber(exports, "pageHeaderSize", DBOS_BP_PAGE_HEADER_SIZE);
	SetNumber(exports, "poolPagesMin", DBOS_BP_POOL_PAGES_MIN);
	SetNumber(exports, "evictBatchDefault", DBOS_BP_EVICT_BATCH_DEFAULT);
	SetNumber(exports, "evictBatchMax", DBOS_BP_EVICT_BATCH_MAX);
	SetNumber(exports, "batchMax", DBOS_BP_FIX_MANY_MAX);
}

} // namespace dbos
