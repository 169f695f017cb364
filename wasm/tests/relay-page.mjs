// The relay tests' page script: loads the packed package that build-web.sh put next to the viewer
// page (../glimpse-web/) and hands it to the test.
import * as glimpse from '../glimpse-web/js/index.js';

await glimpse.init();
window.glimpse = glimpse;
window.glimpseReady = true;
