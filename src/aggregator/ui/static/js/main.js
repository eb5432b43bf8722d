import { render } from 'preact';
import { html } from './html.js';
import { App } from './app.js';

const container = document.getElementById('app');
// render() diffs against existing children: drop the no-script placeholder first.
container.textContent = '';
render(html`<${App} />`, container);
