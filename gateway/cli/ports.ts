import { listSerialPorts } from '../../adapters/serial/list-ports.js';

/** `fieldgate ports`: candidates for `serial[].path`, by-id names first (they survive replugging). */
export async function portsCommand(json: boolean): Promise<number> {
  const ports = await listSerialPorts();
  if (json) {
    console.log(JSON.stringify(ports, null, 2));
    return 0;
  }
  if (!ports.length) {
    console.log('no serial ports found (looked in /dev/serial/by-id and /dev/tty{USB,ACM,AMA,S}*)');
    return 0;
  }
  for (const p of ports) {
    const extra = [p.manufacturer, p.serialNumber].filter(Boolean).join(' ');
    console.log(`${p.byId ?? p.path}${p.byId ? `  -> ${p.path}` : ''}${extra ? `  (${extra})` : ''}`);
  }
  return 0;
}
