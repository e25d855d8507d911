/**
 * Names of fields and points that become topic levels (serial fields, Modbus points, a device id read
 * from a frame). Serial line noise is the common case, not an attack: a garbage key (`te\x13mp`) would
 * become a new topic per frame. So a name must look like one: ASCII letters, digits, `_`, `-`, `.`,
 * at most 64 characters.
 */
export const FIELD_NAME = /^[A-Za-z0-9_.-]{1,64}$/;
export const FIELD_NAME_HINT = 'expected letters, digits, _ . or - (at most 64 characters)';

export function isPlausibleName(name: string): boolean {
  return FIELD_NAME.test(name);
}
