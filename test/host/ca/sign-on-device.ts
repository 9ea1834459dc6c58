// What the card holder does to register (host/src/ca/README.md "Registration"), with the real
// firmware on the emulated device: the agent asks the device to SIGN the registration
// statement; the holder reads it to the end, presses OK, types the PIN and presses OK.

import { DeviceClient, SignResult } from '../../../host/src/device/client';
import { registrationStatement } from '../../../host/src/ca/authority';
import { DeviceRig } from '../../helpers/device-rig';

export async function signRegistrationOnDevice(rig: DeviceRig, code: string): Promise<SignResult> {
  const signing = new DeviceClient(rig.host).sign(registrationStatement(code));
  await rig.waitFor(/Registration/); // the device shows what is signed
  await rig.scrollTo(/-- end --/);
  await rig.press('OK');
  await rig.waitFor(/Enter your PIN/);
  await rig.type('1234');
  await rig.press('OK');
  return signing;
}
