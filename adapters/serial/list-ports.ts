import { readdir, realpath } from 'node:fs/promises';
import { join } from 'node:path';
import { SerialPort } from 'serialport';

export interface SerialPortInfo {
  /** Kernel device, e.g. /dev/ttyUSB0. */
  path: string;
  /** Stable name to put in the config, e.g. /dev/serial/by-id/usb-FTDI_FT232R_USB_UART_A50285BI-if00-port0. */
  byId?: string;
  manufacturer?: string;
  serialNumber?: string;
  vendorId?: string;
  productId?: string;
}

// USB-serial adapters, CDC-ACM boards (Arduino, Pico), the Pi's PL011 UART, 8250/16550 UARTs.
const TTY = /^tty(USB|ACM|AMA|S)\d+$/;

/**
 * Serial ports on this machine. SerialPort.list() needs udevadm, which containers and minimal
 * images lack (it throws); then the ports are read from /dev directly.
 */
export async function listSerialPorts(): Promise<SerialPortInfo[]> {
  try {
    const ports = await SerialPort.list();
    const byId = await byIdLinks('/dev');
    return ports.map((p) => {
      const info: SerialPortInfo = { path: p.path };
      const id = byId.get(p.path);
      if (id) info.byId = id;
      if (p.manufacturer) info.manufacturer = p.manufacturer;
      if (p.serialNumber) info.serialNumber = p.serialNumber;
      if (p.vendorId) info.vendorId = p.vendorId;
      if (p.productId) info.productId = p.productId;
      return info;
    });
  } catch {
    return listPortsFromDev('/dev');
  }
}

/** The fallback: `<dev>/serial/by-id/*` (symlinks resolved) plus `<dev>/tty{USB,ACM,AMA,S}N`. */
export async function listPortsFromDev(devDir = '/dev'): Promise<SerialPortInfo[]> {
  const dev = await realpath(devDir).catch(() => devDir); // so joined paths compare equal to resolved links
  const byId = await byIdLinks(dev);
  const paths = new Set(byId.keys());
  for (const name of await readdir(dev).catch(() => [])) if (TTY.test(name)) paths.add(join(dev, name));
  return [...paths].sort(naturalOrder).map((path) => {
    const id = byId.get(path);
    return id ? { path, byId: id } : { path };
  });
}

/** real device path -> its /dev/serial/by-id link. */
async function byIdLinks(dev: string): Promise<Map<string, string>> {
  const dir = join(dev, 'serial', 'by-id');
  const links = new Map<string, string>();
  for (const name of await readdir(dir).catch(() => [])) {
    const link = join(dir, name);
    const target = await realpath(link).catch(() => undefined); // dangling: adapter just unplugged
    if (target) links.set(target, link);
  }
  return links;
}

/** ttyS2 before ttyS10. */
function naturalOrder(a: string, b: string): number {
  return a.localeCompare(b, undefined, { numeric: true });
}
