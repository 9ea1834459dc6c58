// The emulator's page: draws the OLED from the server's events and sends key presses,
// card and power actions. Plain browser JavaScript, no build step.
/* global document, window, EventSource */
'use strict';

(function () {
  var W = 128;
  var H = 64;
  var SCALE = 4;
  var LIT = [0xbf, 0xe6, 0xff]; // OLED white-blue, as the PNG screenshots
  var KEYBOARD = { Enter: 'OK', NumpadEnter: 'OK', Escape: 'CANCEL', Backspace: 'CLEAR', ArrowUp: 'UP', ArrowDown: 'DOWN', m: 'MENU', M: 'MENU' };

  var canvas = document.getElementById('oled');
  var ctx = canvas.getContext('2d');
  var image = ctx.createImageData(W * SCALE, H * SCALE);
  var linkLed = document.getElementById('link-led');
  var conn = document.getElementById('conn');
  var cardButton = document.getElementById('card');
  var cardState = document.getElementById('card-state');
  var powerButton = document.getElementById('power');
  var errorLine = document.getElementById('error');
  var buttons = {};
  var state = { power: true, card: false, canInsert: true };
  var held = {}; // key -> source ('pointer' | 'keyboard')

  Array.prototype.forEach.call(document.querySelectorAll('#keypad button'), function (b) {
    buttons[b.getAttribute('data-key')] = b;
  });

  function showError(msg) {
    if (!msg) {
      errorLine.hidden = true;
      return;
    }
    errorLine.textContent = msg;
    errorLine.hidden = false;
  }

  // requests go one after another, so a key's "up" can never overtake its "down"
  var queue = Promise.resolve();
  function post(path, body) {
    var p = queue.then(function () {
      return fetch(path, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(body) }).then(function (r) {
        return r.json().then(function (j) {
          if (!r.ok) throw new Error(j.error || r.statusText);
          showError('');
          return j;
        });
      });
    });
    queue = p.catch(function (e) {
      showError(e.message);
    });
    return p;
  }

  // ---------------------------------------------------------------- display

  function draw(screen) {
    var bytes = atob(screen.pixels);
    var d = image.data;
    var on = screen.on;
    canvas.classList.toggle('off', !on);
    var rowBytes = W * SCALE * 4;
    for (var y = 0; y < H; y++) {
      for (var x = 0; x < W; x++) {
        var i = y * W + x;
        var lit = on && (bytes.charCodeAt(i >> 3) & (0x80 >> (i & 7))) !== 0;
        var r = lit ? LIT[0] : 0;
        var g = lit ? LIT[1] : 0;
        var b = lit ? LIT[2] : 0;
        for (var dy = 0; dy < SCALE; dy++) {
          var o = (y * SCALE + dy) * rowBytes + x * SCALE * 4;
          for (var dx = 0; dx < SCALE; dx++, o += 4) {
            d[o] = r;
            d[o + 1] = g;
            d[o + 2] = b;
            d[o + 3] = 255;
          }
        }
      }
    }
    ctx.putImageData(image, 0, 0);
  }

  // ---------------------------------------------------------------- indicators

  var ledTimer = null;
  function blink() {
    linkLed.classList.add('on');
    if (ledTimer) clearTimeout(ledTimer);
    ledTimer = setTimeout(function () {
      linkLed.classList.remove('on');
      ledTimer = null;
    }, 120);
  }

  function showCard(present) {
    state.card = present;
    cardButton.textContent = present ? 'Remove card' : 'Insert card';
    cardButton.setAttribute('aria-pressed', present ? 'true' : 'false');
    cardState.textContent = present ? 'card inserted' : 'no card';
    cardState.classList.toggle('present', present);
    cardButton.disabled = !present && !state.canInsert;
  }

  function showPower(on) {
    state.power = on;
    powerButton.textContent = on ? 'Power off' : 'Power on';
    powerButton.setAttribute('aria-pressed', on ? 'true' : 'false');
    document.body.classList.toggle('powered-off', !on);
  }

  // ---------------------------------------------------------------- events

  function connect() {
    var es = new EventSource('/api/events');
    es.onopen = function () {
      conn.textContent = 'connected';
      conn.className = 'conn ok';
    };
    es.onerror = function () {
      conn.textContent = 'reconnecting…';
      conn.className = 'conn bad';
    };
    es.addEventListener('screen', function (e) {
      draw(JSON.parse(e.data));
    });
    es.addEventListener('card', function (e) {
      showCard(JSON.parse(e.data).present);
    });
    es.addEventListener('power', function (e) {
      showPower(JSON.parse(e.data).on);
    });
    es.addEventListener('link', function (e) {
      var l = JSON.parse(e.data);
      linkLed.title = 'received ' + l.rxTotal + ' bytes, sent ' + l.txTotal + ' bytes';
      if (l.rx || l.tx) blink();
    });
  }

  // ---------------------------------------------------------------- keys

  function keyDown(key, source) {
    if (held[key]) return;
    held[key] = source;
    buttons[key].classList.add('down');
    post('/api/key', { key: key, action: 'down' });
  }

  function keyUp(key) {
    if (!held[key]) return;
    delete held[key];
    buttons[key].classList.remove('down');
    post('/api/key', { key: key, action: 'up' });
  }

  function releaseAll() {
    Object.keys(held).forEach(keyUp);
  }

  Object.keys(buttons).forEach(function (key) {
    var b = buttons[key];
    b.addEventListener('pointerdown', function (e) {
      if (e.button !== 0) return;
      e.preventDefault();
      b.focus();
      keyDown(key, 'pointer');
    });
    b.addEventListener('pointerup', function () {
      keyUp(key);
    });
    b.addEventListener('pointerleave', function () {
      keyUp(key);
    });
    b.addEventListener('pointercancel', function () {
      keyUp(key);
    });
    // keyboard activation of a focused button (Space) and assistive technology clicks
    b.addEventListener('click', function (e) {
      if (e.detail === 0 && !held[key]) post('/api/key', { key: key, action: 'tap' });
    });
  });

  function keyFor(e) {
    if (/^[0-9]$/.test(e.key)) return e.key;
    return KEYBOARD[e.key] || null;
  }

  document.addEventListener('keydown', function (e) {
    if (e.ctrlKey || e.altKey || e.metaKey) return;
    var t = e.target;
    // Enter on the card or power button activates that button
    if (t && t.tagName === 'BUTTON' && !t.hasAttribute('data-key') && (e.key === 'Enter' || e.key === ' ')) return;
    var key = keyFor(e);
    if (!key) return;
    e.preventDefault();
    if (!e.repeat) keyDown(key, 'keyboard');
  });
  document.addEventListener('keyup', function (e) {
    var key = keyFor(e);
    if (key && held[key] === 'keyboard') {
      e.preventDefault();
      keyUp(key);
    }
  });
  window.addEventListener('blur', releaseAll);

  // ---------------------------------------------------------------- controls

  cardButton.addEventListener('click', function () {
    post('/api/card', { action: state.card ? 'remove' : 'insert' }).then(
      function (r) {
        showCard(r.present);
      },
      function () {},
    );
  });

  powerButton.addEventListener('click', function () {
    powerButton.disabled = true;
    post('/api/power', { on: !state.power })
      .then(
        function (r) {
          showPower(r.on);
        },
        function () {},
      )
      .then(function () {
        powerButton.disabled = false;
      });
  });

  fetch('/api/state')
    .then(function (r) {
      return r.json();
    })
    .then(function (s) {
      state.canInsert = s.canInsert;
      showCard(s.card);
      showPower(s.power);
      if (!s.canInsert) cardButton.title = 'no card available in this emulator';
      powerButton.disabled = !s.canPower;
      if (!s.canPower) powerButton.title = 'power control is not available in this emulator';
    })
    .catch(function (e) {
      showError(e.message);
    });

  draw({ on: false, pixels: '' });
  connect();
})();
