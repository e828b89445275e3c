/** `linea view` as the tests, bench and scripts start it: the URL it prints once it listens. */
import type { ChildProcess } from 'node:child_process';

export function viewUrl(child: Pick<ChildProcess, 'stderr' | 'once'>, seconds = 60): Promise<string> {
  return new Promise<string>((resolve, reject) => {
    let text = '';
    child.stderr!.on('data', (chunk: Buffer) => {
      text += chunk.toString();
      const match = /linea view: (http\S+)/.exec(text);
      if (match) resolve(match[1]!);
    });
    child.once('exit', () => reject(new Error(`linea view exited: ${text}`)));
    setTimeout(() => reject(new Error(`linea view printed no URL in ${seconds} s: ${text}`)), seconds * 1000).unref();
  });
}
