// The shop's pay box (the order page's only script, served by the shop itself under its CSP):
// hands the order's payment to the buyer's own SEMPER agent with @semper/client, shows what the
// agent says while the buyer confirms on the device, and then reloads the order page, where the
// shop shows what its own books say (paid, with the signed receipt). Nothing the page learns here
// is taken as proof of payment: the merchant's side of the exchange is.

import { SemperClient } from './client.mjs';

const box = document.getElementById('semper-pay');
const status = document.getElementById('semper-status');
const codeLine = document.getElementById('semper-code');
const retry = document.getElementById('semper-start');

const say = (text, kind = 'info') => {
  status.textContent = text;
  status.dataset.kind = kind;
};

const request = {
  offer: box.dataset.offer,
  amount: { amount: Number(box.dataset.amount), currency: box.dataset.currency },
  payee: box.dataset.payee,
  reference: box.dataset.reference,
};

// what the buyer can do about each refusal, in words
const ADVICE = {
  AGENT_UNREACHABLE: 'Your SEMPER agent does not answer. Start it (npm start starts one for the demo) and try again. Nothing was charged.',
  PAIRING_REFUSED: 'You declined to connect this shop to your device. Nothing was charged.',
  PAIRING_TIMEOUT: 'Nobody confirmed the connection on the device in time. Nothing was charged.',
  OVER_LIMIT: 'This payment is above the spending limit you set for this shop. Nothing was charged.',
  DEVICE_BUSY: 'Your device is busy with another request. Finish or cancel it there, then try again.',
  NOT_PAIRED: 'This shop is not connected to your device yet. Try again to connect it.',
};

let running = false;

async function pay() {
  if (running) return;
  running = true;
  retry.hidden = true;
  retry.textContent = 'Try again';
  const semper = new SemperClient({ agent: box.dataset.agent });
  const off = semper.onProgress((p) => {
    if (p.progress) say(`Step ${p.progress.step} of ${p.progress.steps}: ${p.progress.label}${p.progress.waitingForUser ? ' — look at your device' : ''}`);
  });
  try {
    say('Connecting to your SEMPER agent…');
    await semper.pair({
      onCode: (code) => {
        codeLine.hidden = false;
        codeLine.textContent = code;
        say('Your device asks whether this shop may ask it for payments. Check that it shows this code and this shop’s address, then press OK on the device.');
      },
    });
    codeLine.hidden = true;
    say('Look at your payment device: check the merchant and the amount, press OK, then enter your PIN on its keypad.');
    const purchase = await semper.purchase(request);
    if (purchase.state === 'completed') {
      say('Paid. Fetching your receipt from the shop…', 'done');
      location.reload();
      return;
    }
    if (purchase.state === 'refused') say(`You declined on the device. Nothing was charged. ${purchase.result?.message ?? ''}`.trim(), 'refused');
    else say(`The payment did not go through: ${purchase.error?.message ?? 'unknown error'}. If your device showed a payment as done, your archive holds the evidence.`, 'failed');
  } catch (e) {
    say(ADVICE[e?.code] ?? `The payment could not be started: ${e?.message ?? e}`, 'failed');
  } finally {
    off();
    semper.close();
    running = false;
  }
  retry.hidden = false;
}

retry.addEventListener('click', () => void pay());
// the device is asked by itself only on the first visit of this order's page; after that (a
// reload, the back button) the buyer chooses to ask again — a page must not nag the device
const asked = `semper-asked-${box.dataset.order}`;
if (sessionStorage.getItem(asked)) {
  say('Not paid yet. Press the button to pay with your device.');
  retry.textContent = 'Pay with your device';
  retry.hidden = false;
} else {
  sessionStorage.setItem(asked, '1');
  void pay();
}
