/**
 * The mark on a validation problem that no JSON Schema can state: two fields that are each valid
 * but disagree (a health timeout not shorter than its interval, a variable in both env and
 * secrets). The API answers a body whose only problems carry it with 422, not 400: the OpenAPI
 * document, generated from the same schemas, accepts it field by field, so it is not malformed.
 */
export const FIELDS_DISAGREE = { fieldsDisagree: true } as const;

/** Whether a zod issue carries the mark. */
export function isFieldsDisagree(issue: { code: string; params?: unknown }): boolean {
  return (
    issue.code === 'custom' &&
    typeof issue.params === 'object' &&
    issue.params !== null &&
    (issue.params as { fieldsDisagree?: unknown }).fieldsDisagree === true
  );
}
