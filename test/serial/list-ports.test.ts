import { mkdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, expect, it } from 'vitest';
import { listPortsFromDev, listSerialPorts } from '../../adapters/serial/list-ports.js';
import { cleanupTmpDirs, tmpDir } from '../harness/tmp.js';

afterAll(cleanupTmpDirs);

it('falls back to /dev/serial/by-id (links resolved) plus tty{USB,ACM,AMA,S}N', async () => {
  const dev = tmpDir('fieldgate-dev-');
  for (const n of ['ttyUSB0', 'ttyACM0', 'ttyAMA0', 'ttyS10', 'ttyS2', 'tty0', 'ttyUSB', 'null', 'ttyXRUSB0'])
    writeFileSync(join(dev, n), '');
  mkdirSync(join(dev, 'serial', 'by-id'), { recursive: true });
  symlinkSync('../../ttyUSB0', join(dev, 'serial/by-id/usb-FTDI_FT232R_USB_UART_A50285BI-if00-port0'));
  symlinkSync('../../ttyXRUSB0', join(dev, 'serial/by-id/usb-Exar_XR21V1410-if00'));
  symlinkSync('../../ttyUSB9', join(dev, 'serial/by-id/usb-gone-if00')); // dangling: just unplugged

  expect(await listPortsFromDev(dev)).toEqual([
    { path: join(dev, 'ttyACM0') },
    { path: join(dev, 'ttyAMA0') },
    { path: join(dev, 'ttyS2') },
    { path: join(dev, 'ttyS10') },
    {
      path: join(dev, 'ttyUSB0'),
      byId: join(dev, 'serial/by-id/usb-FTDI_FT232R_USB_UART_A50285BI-if00-port0'),
    },
    { path: join(dev, 'ttyXRUSB0'), byId: join(dev, 'serial/by-id/usb-Exar_XR21V1410-if00') },
  ]);
  expect(await listPortsFromDev(join(dev, 'missing'))).toEqual([]);
});

it('lists ports on this machine even without udevadm', async () => {
  const ports = await listSerialPorts();
  expect(Array.isArray(ports)).toBe(true);
  for (const p of ports) expect(p.path).toMatch(/^\/dev\//);
});
