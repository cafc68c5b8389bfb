// Sign-in page: the fragment (#/jobs/…) never reaches the server, so the form takes it along to land where the user was going.
'use strict';
document.querySelector('form.signin-form').addEventListener('submit', e => {
  const back = e.target.elements.returnUrl;
  if (location.hash && !back.value.includes('#')) back.value = (back.value || './') + location.hash;
});
