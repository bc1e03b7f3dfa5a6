/**
 * The key the approval rule compares people by. An e-mail address is the one identifier every
 * channel can vouch for (SSO claims, Slack's verified address, a token's owner), so it is compared
 * without case; any other identifier (an identity provider's subject, a workload's principal name)
 * is compared exactly.
 */
export function personKey(identifier: string): string {
  const trimmed = identifier.trim();
  return trimmed.includes('@') ? trimmed.toLowerCase() : trimmed;
}
