/* The web form's progressive enhancements; the form works the same without them.
 * - "Use my current location": fills the hidden lat/lon fields from the browser's location.
 * - After an error, the error summary takes the focus, so a screen reader reads it first. */
(function () {
  "use strict";
  var locate = document.getElementById("locate");
  if (locate && "geolocation" in navigator) {
    var status = document.getElementById("locate-status");
    var say = function (text) { status.textContent = text; };
    locate.hidden = false;
    locate.addEventListener("click", function () {
      say(locate.dataset.busy);
      locate.disabled = true;
      navigator.geolocation.getCurrentPosition(function (position) {
        var lat = position.coords.latitude.toFixed(6), lon = position.coords.longitude.toFixed(6);
        document.getElementById("lat").value = lat;
        document.getElementById("lon").value = lon;
        say(locate.dataset.done.replace("{lat}", lat).replace("{lon}", lon));
        locate.disabled = false;
      }, function () {
        say(locate.dataset.failed);
        locate.disabled = false;
      }, { enableHighAccuracy: true, timeout: 15000, maximumAge: 60000 });
    });
  }
  var errors = document.getElementById("errors");
  if (errors) { errors.focus(); }
})();
