/** Sparkplug B topic namespace (spBv1.0). */
export const NAMESPACE = 'spBv1.0';

export type NodeVerb = 'NBIRTH' | 'NDEATH' | 'NDATA' | 'NCMD';
export type DeviceVerb = 'DBIRTH' | 'DDEATH' | 'DDATA' | 'DCMD';

export interface EdgeIds {
  group: string;
  node: string;
}

export function nodeTopic(ids: EdgeIds, verb: NodeVerb): string {
  return `${NAMESPACE}/${ids.group}/${verb}/${ids.node}`;
}

export function deviceTopic(ids: EdgeIds, verb: DeviceVerb, device: string): string {
  return `${NAMESPACE}/${ids.group}/${verb}/${ids.node}/${device}`;
}

export function stateTopic(hostId: string): string {
  return `${NAMESPACE}/STATE/${hostId}`;
}

/** A device id Sparkplug can carry: one topic level. */
export function validDeviceId(device: string): boolean {
  // biome-ignore lint/suspicious/noControlCharactersInRegex: NUL is not allowed in a topic
  return device.length > 0 && !/[/+#\u0000]/.test(device);
}
