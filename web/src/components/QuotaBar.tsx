import type { Account } from "../session";
import { formatSize } from "../util";

export function QuotaBar({ account }: { account: Account }) {
  const share = account.quota_bytes > 0 ? Math.min(1, account.used_bytes / account.quota_bytes) : 0;
  return (
    <div class="quota" title={`${formatSize(account.used_bytes)} of ${formatSize(account.quota_bytes)} used`}>
      <div
        class={`quota-bar${share > 0.9 ? " full" : ""}`}
        role="meter"
        aria-label="Storage used"
        aria-valuemin={0}
        aria-valuemax={account.quota_bytes}
        aria-valuenow={account.used_bytes}
      >
        <span style={{ width: `${(share * 100).toFixed(1)}%` }} />
      </div>
      <small>
        {formatSize(account.used_bytes)} of {formatSize(account.quota_bytes)}
      </small>
    </div>
  );
}
